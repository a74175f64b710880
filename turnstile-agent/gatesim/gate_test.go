package gatesim_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
)

var _ agent.Gate = (*gatesim.Gate)(nil)

func TestGateLines(t *testing.T) {
	var out bytes.Buffer
	g := gatesim.New("hn2a-cat-linh-g01", &out)
	g.Open(proto.ReasonOK.Display())
	g.Refuse(proto.ReasonInsufficientFunds.Display())

	want := "[hn2a-cat-linh-g01] MỞ / OPEN      Mời qua · Please pass\n" +
		"[hn2a-cat-linh-g01] ĐÓNG / CLOSED  Số dư không đủ, vui lòng nạp tiền · Insufficient balance, please top up\n"
	if got := out.String(); got != want {
		t.Errorf("lines:\n%s\nwant:\n%s", got, want)
	}
	st := g.State()
	if st.Opened != 1 || st.Refused != 1 || st.LastOpen || st.Last != proto.ReasonInsufficientFunds.Display() {
		t.Errorf("state = %+v", st)
	}
}

func TestGateNilWriter(t *testing.T) {
	g := gatesim.New("g1", nil)
	g.Open(proto.ReasonOK.Display())
	if st := g.State(); st.Opened != 1 || !st.LastOpen || st.Last != proto.ReasonOK.Display() {
		t.Errorf("state = %+v", st)
	}
}

// syncBuffer fails the test if two writes overlap.
type syncBuffer struct {
	t    *testing.T
	busy sync.Mutex
	buf  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	if !b.busy.TryLock() {
		b.t.Error("concurrent writes to the gate's writer")
		b.busy.Lock()
	}
	defer b.busy.Unlock()
	return b.buf.Write(p)
}

func TestGateConcurrent(t *testing.T) {
	out := &syncBuffer{t: t}
	g := gatesim.New("g1", out)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			if i%2 == 0 {
				g.Open(proto.ReasonOK.Display())
			} else {
				g.Refuse(proto.ReasonTimeout.Display())
			}
		})
	}
	wg.Wait()
	if st := g.State(); st.Opened != 50 || st.Refused != 50 {
		t.Errorf("state = %+v, want 50 opened and 50 refused", st)
	}
	if n := strings.Count(out.buf.String(), "\n"); n != 100 {
		t.Errorf("%d lines, want 100", n)
	}
}
