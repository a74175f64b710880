package admission

import (
	"context"
	"fmt"

	"github.com/vnpass/vnpass/proto"
)

// TapHandler decides taps of some device kinds (the metro Processor, the
// parking and rail services): the same contract as Processor.Handle.
type TapHandler interface {
	Handle(ctx context.Context, topic string, payload []byte) (Reply, error)
}

// DecodedHandler is a TapHandler that can also take a tap already decoded,
// so that the tap path parses each payload once.
type DecodedHandler interface {
	HandleTap(ctx context.Context, topic string, t proto.Tap) (Reply, error)
}

// Dispatch hands each tap to the handler of its device kind, so that one
// tap stream (one shared subscription) serves metro gates, parking barriers
// and rail gates, each decided by its own service logic. A kind with no
// handler goes to Default (the metro Processor, which refuses it as
// wrong_kind, recorded and answered).
type Dispatch struct {
	Default TapHandler
	ByKind  map[proto.Kind]TapHandler
}

// Handle routes one tap; see Processor.Handle for the contract.
func (d *Dispatch) Handle(ctx context.Context, topic string, payload []byte) (Reply, error) {
	t, err := proto.DecodeTap(payload)
	if err != nil {
		// The default handler counts and reports the malformed payload.
		return d.Default.Handle(ctx, topic, payload)
	}
	h := d.Default
	if k := d.ByKind[t.Kind]; k != nil {
		h = k
	}
	var r Reply
	if dh, ok := h.(DecodedHandler); ok {
		r, err = dh.HandleTap(ctx, topic, t)
	} else {
		r, err = h.Handle(ctx, topic, payload)
	}
	if err != nil && h != d.Default {
		return r, fmt.Errorf("%s tap: %w", t.Kind, err)
	}
	return r, err
}
