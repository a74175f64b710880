package agent

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
)

type nopGate struct{}

func (nopGate) Open(proto.Display)   {}
func (nopGate) Refuse(proto.Display) {}

type nopMatcher struct{}

func (nopMatcher) Match(context.Context, string, string) (string, time.Time, error) {
	return "", time.Time{}, ErrNoMatch
}

// FuzzInbound feeds arbitrary bytes to both command handlers, as a broker
// (or anyone with write access to the command topics) could: nothing may
// panic, every payload is accounted for exactly once, and a decision for a
// waiting tap reaches only that tap.
func FuzzInbound(f *testing.F) {
	good, _ := proto.Decision{EventID: "01a20ced-7d28-71b9-b1e9-3c59f6b8d8c3", Open: true, Reason: proto.ReasonOK,
		Display: proto.ReasonOK.Display(), DecidedAt: proto.At(time.Now())}.Encode()
	cfg, _ := proto.Config{Version: 2, Device: "g1", Site: "s1", Kind: proto.KindMetroEntry,
		DecisionTimeoutMS: 500, IssuedAt: proto.At(time.Now())}.Encode()
	for _, s := range [][]byte{good, cfg, nil, []byte("{}"), []byte(`{"v":1}`), []byte("null"), []byte(`{"v":1,"version":3}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := New(Config{Device: "g1", Site: "s1", Kind: proto.KindMetroEntry, Matcher: nopMatcher{}, Gate: nopGate{},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		waiting := a.await("01a20ced-7d28-71b9-b1e9-3c59f6b8d8c3")
		a.onDecision(b)
		s := a.Stats()
		select {
		case d := <-waiting:
			if d.EventID != "01a20ced-7d28-71b9-b1e9-3c59f6b8d8c3" || s.MalformedDecisions+s.StrayDecisions != 0 {
				t.Fatalf("decision %+v handed over, stats %+v", d, s)
			}
		default:
			if s.MalformedDecisions+s.StrayDecisions != 1 {
				t.Fatalf("payload not accounted for: %+v", s)
			}
		}

		a.onConfig(b)
		s = a.Stats()
		if n := s.ConfigsApplied + s.ConfigsIgnored + s.MalformedConfigs; n > 1 || n == 0 && len(b) > 0 {
			t.Fatalf("config payload counted %d times: %+v", n, s)
		}
		if d := a.DecisionTimeout(); d != DefaultDecisionTimeout && (d < 100*time.Millisecond || d > 30*time.Second) {
			t.Fatalf("decision timeout %v out of range", d)
		}
	})
}

// FuzzInboundWithState is FuzzInbound for a gate with a state directory:
// whatever arrives, nothing panics, the queue stays usable and a config
// that applies is kept on disk in a form the next start reads back.
func FuzzInboundWithState(f *testing.F) {
	cfg, _ := proto.Config{Version: 2, Device: "g1", Site: "s1", Kind: proto.KindMetroEntry, DecisionTimeoutMS: 500,
		IssuedAt: proto.At(time.Now()), Offline: &proto.OfflinePolicy{MaxEntriesPerDay: 1},
		DenyList: &proto.DenyList{Version: 3, IssuedAt: proto.At(time.Now()), Subjects: []string{"vn_a"}}, HeartbeatS: 10, DrainPerS: 50}.Encode()
	for _, s := range [][]byte{cfg, nil, []byte(`{"v":1,"version":3,"deny_list":{"version":-1}}`), []byte(`{"v":1,"event_id":"x"}`)} {
		f.Add(s)
	}
	dir := f.TempDir()
	a, err := New(Config{Device: "g1", Site: "s1", Kind: proto.KindMetroEntry, Matcher: nopMatcher{}, Gate: nopGate{},
		Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)
	f.Fuzz(func(t *testing.T, b []byte) {
		a.onDecision(b)
		a.onConfig(b)
		if d := a.DecisionTimeout(); d != DefaultDecisionTimeout && (d < 100*time.Millisecond || d > 30*time.Second) {
			t.Fatalf("decision timeout %v out of range", d)
		}
		if _, err := a.status(proto.StateOnline); err != nil {
			t.Fatalf("status does not encode after %q: %v", b, err)
		}
	})
}
