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
	if h := d.ByKind[t.Kind]; h != nil {
		r, err := h.Handle(ctx, topic, payload)
		if err != nil {
			return r, fmt.Errorf("%s tap: %w", t.Kind, err)
		}
		return r, nil
	}
	return d.Default.Handle(ctx, topic, payload)
}
