package main

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
)

// TestFloodingGateLimited: one gate floods the tap topic (a compromised or
// broken device: well-formed taps with forged assertions, as fast as the
// broker takes them) while another gate's riders pass. The per-device limit
// (services/tapmqtt/limit.go) paces the flooder and drops what it sends
// over its hold, so the other gate's riders are decided as usual; and the
// flooder, sending again what got no decision (as the turnstile agent does
// with every tap it keeps on disk until decided), gets every tap decided
// in the end: nothing dropped is lost. Latencies are logged, not asserted
// tightly (the machine is shared); a rider waiting past the gate's
// decision timeout fails the test.
func TestFloodingGateLimited(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	// 100 taps/s instead of the default 20 keeps the test short: the
	// flood is decided in about 10s instead of 50s.
	const rate, burst = 100, 40
	p := startPlatformWith(t, func(c *Config) { c.TapRate, c.TapBurst = rate, burst })
	_, face := p.rider("001090077777")
	in := p.rawGate("hn2a-cat-linh", "hn2a-cat-linh-in01")
	out := p.rawGate("hn2a-ha-dong", "hn2a-ha-dong-out01")
	flooder := p.rawGate("hn2a-lang", "hn2a-lang-in01")

	var mu sync.Mutex
	decided := map[string]bool{}
	lastDecision := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case d := <-flooder.decisions:
				mu.Lock()
				if !decided[d.EventID] {
					decided[d.EventID] = true
					lastDecision = time.Now()
				}
				mu.Unlock()
			case <-stop:
				return
			}
		}
	}()

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
	for i := 0; i < 10; i++ {
		quiet = append(quiet, trip()...)
	}

	const flood = 1000
	forged := forge(t, p.idp.SigningKID(), "vn_flood", flooder.dev)
	taps := make(map[string][]byte, flood)
	for i := 0; i < flood; i++ {
		tp, b := flooder.tap(proto.KindMetroEntry, forged)
		taps[tp.EventID] = b
	}
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for _, b := range taps {
			flooder.client.Publish(flooder.topics.Taps(flooder.site, flooder.dev), 1, false, b)
		}
	}()
	time.Sleep(50 * time.Millisecond)
	var busy []time.Duration
	for i := 0; i < 15; i++ {
		busy = append(busy, trip()...)
	}
	<-flooded

	// As the agent: once no new decision has come for a while
	// (agent.Config.ResendAfter, 10s by default; 2s here), everything not
	// decided is sent again under the same event id, until every tap is.
	deadline := time.Now().Add(120 * time.Second)
	rounds, resent := 0, 0
	for {
		time.Sleep(250 * time.Millisecond)
		mu.Lock()
		var missing [][]byte
		for id, b := range taps {
			if !decided[id] {
				missing = append(missing, b)
			}
		}
		stalled := time.Since(lastDecision) > 2*time.Second
		mu.Unlock()
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d flood taps never decided", len(missing), flood)
		}
		if !stalled {
			continue
		}
		mu.Lock()
		lastDecision = time.Now()
		mu.Unlock()
		rounds++
		resent += len(missing)
		for _, b := range missing {
			flooder.client.Publish(flooder.topics.Taps(flooder.site, flooder.dev), 1, false, b)
		}
	}
	st := p.main.Ingest.Stats()
	t.Logf("other gate's decision latency: quiet p50 %s p99 %s max %s; during a flood of %d taps (limit %d/s burst %d) p50 %s p99 %s max %s",
		pct(quiet, 50), pct(quiet, 99), pct(quiet, 100), flood, rate, burst, pct(busy, 50), pct(busy, 99), pct(busy, 100))
	t.Logf("flooder: paced %d, dropped %d; every tap decided after %d resend rounds (%d taps sent again)",
		st.Paced.Load(), st.RateDropped.Load(), rounds, resent)
	if st.Paced.Load() == 0 || st.RateDropped.Load() == 0 {
		t.Errorf("the flooder was not limited: paced %d, dropped %d", st.Paced.Load(), st.RateDropped.Load())
	}
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
