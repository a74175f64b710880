package main

import (
	"sort"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
)

// TestFloodingGateMeasured: one gate floods the tap topic (a compromised or
// broken device: well-formed taps with forged assertions, as fast as the
// broker takes them) while another gate's riders pass. The fare service
// has no per-device rate limit (SECURITY.md, "Flooding gate"): the broker's
// ACL keeps the flood to the device's own topic and the decoder's size
// limit bounds each message, but every tap is decided in turn. This test
// measures what the flood costs the other gate and fails only when a
// rider there is not answered within the gate's decision timeout.
func TestFloodingGateMeasured(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	p := startPlatform(t)
	_, face := p.rider("001090077777")
	in := p.rawGate("hn2a-cat-linh", "hn2a-cat-linh-in01")
	out := p.rawGate("hn2a-ha-dong", "hn2a-ha-dong-out01")
	flooder := p.rawGate("hn2a-lang", "hn2a-lang-in01")

	trip := func() []time.Duration {
		var lat []time.Duration
		for _, g := range []*gate{in, out} {
			kind := proto.KindMetroEntry
			if g == out {
				kind = proto.KindMetroExit
			}
			a := p.assertion(face, g.dev)
			start := time.Now()
			d := g.send(kind, a)
			lat = append(lat, time.Since(start))
			wantReason(t, g.dev, d, proto.ReasonOK)
		}
		return lat
	}
	var quiet []time.Duration
	for i := 0; i < 5; i++ {
		quiet = append(quiet, trip()...)
	}

	const flood = 1000
	forged := forge(t, p.idp.SigningKID(), "vn_flood", flooder.dev)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < flood; i++ {
			_, b := flooder.tap(proto.KindMetroEntry, forged)
			flooder.client.Publish(flooder.topics.Taps(flooder.site, flooder.dev), 1, false, b)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	var busy []time.Duration
	for i := 0; i < 5; i++ {
		busy = append(busy, trip()...)
	}
	<-done
	// The flooder's own decisions all arrive (nothing is dropped).
	deadline := time.After(60 * time.Second)
	for n := 0; n < flood; n++ {
		select {
		case <-flooder.decisions:
		case <-deadline:
			t.Fatalf("%d of %d flood decisions arrived", n, flood)
		}
	}
	t.Logf("other gate's decision latency: quiet p50 %s max %s; during a flood of %d taps p50 %s max %s",
		pct(quiet, 50), pct(quiet, 100), flood, pct(busy, 50), pct(busy, 100))
	if m := pct(busy, 100); m > p.cfg.DecisionTimeout {
		t.Errorf("a rider at another gate waited %s during the flood, over the decision timeout %s", m, p.cfg.DecisionTimeout)
	}
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s) - 1) * p / 100
	return s[i]
}
