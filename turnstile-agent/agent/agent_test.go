package agent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
)

func TestNewValidates(t *testing.T) {
	valid := func() agent.Config {
		return agent.Config{
			Device:  "hn2a-cat-linh-g01",
			Site:    testSite,
			Kind:    proto.KindMetroEntry,
			Matcher: &fakeMatcher{},
			Gate:    gatesim.New("g", nil),
		}
	}
	tests := []struct {
		name   string
		change func(*agent.Config)
	}{
		{"empty device", func(c *agent.Config) { c.Device = "" }},
		{"device with wildcard", func(c *agent.Config) { c.Device = "g+1" }},
		{"device with slash", func(c *agent.Config) { c.Device = "a/b" }},
		{"upper-case site", func(c *agent.Config) { c.Site = "HN2A" }},
		{"unknown kind", func(c *agent.Config) { c.Kind = "bus_door" }},
		{"no matcher", func(c *agent.Config) { c.Matcher = nil }},
		{"no gate", func(c *agent.Config) { c.Gate = nil }},
		{"negative timeout", func(c *agent.Config) { c.DecisionTimeout = -time.Second }},
		{"software too long", func(c *agent.Config) { c.Software = strings.Repeat("x", 65) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.change(&cfg)
			if _, err := agent.New(cfg); err == nil {
				t.Error("New accepted it")
			}
		})
	}
	a, err := agent.New(valid())
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if got := a.DecisionTimeout(); got != agent.DefaultDecisionTimeout {
		t.Errorf("default decision timeout = %v, want %v", got, agent.DefaultDecisionTimeout)
	}
}

func TestTapBeforeConnectRefuses(t *testing.T) {
	g := gatesim.New("g", nil)
	a, err := agent.New(agent.Config{Device: "g1", Site: testSite, Kind: proto.KindMetroExit, Matcher: &fakeMatcher{}, Gate: g})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Tap(context.Background(), "face-1", "")
	if !errors.Is(err, agent.ErrNotConnected) {
		t.Fatalf("err = %v, want ErrNotConnected", err)
	}
	if st := g.State(); st.Refused != 1 || st.Opened != 0 || res.Decision.Open || !res.Local {
		t.Errorf("gate %+v, result %+v", st, res)
	}
}

func TestOpenDecisionOpensGate(t *testing.T) {
	r := newRig(t)
	r.connect(t)
	// Not the standard text: the gate must show what the decision says.
	shown := proto.Display{VI: "Mời qua, đã trừ 8.000 đ", EN: "Please pass, 8,000 VND charged"}
	r.respond(t, func(tp proto.Tap) [][]byte {
		return [][]byte{decision(t, tp.EventID, proto.ReasonOK, shown)}
	})

	res := tap(t, r.agent, "face-0001", "")
	if !res.Decision.Open || res.Decision.Reason != proto.ReasonOK || res.Decision.EventID != res.EventID {
		t.Errorf("decision = %+v (event %s)", res.Decision, res.EventID)
	}
	if res.TimedOut || res.Local || res.Latency <= 0 || res.Latency > 3*time.Second {
		t.Errorf("result = %+v", res)
	}
	st := r.gate.State()
	if st.Opened != 1 || st.Refused != 0 || !st.LastOpen || st.Last != shown {
		t.Errorf("gate = %+v, want opened once showing %v", st, shown)
	}
	if s := r.agent.Stats(); s.Taps != 1 || s.Opened != 1 || s.Refused != 0 || s.Timeouts != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestRefusalKeepsGateClosed(t *testing.T) {
	r := newRig(t)
	r.connect(t)
	shown := proto.Display{VI: "Số dư không đủ (2.000 đ), vui lòng nạp tiền", EN: "Insufficient balance (2,000 VND), please top up"}
	r.respond(t, func(tp proto.Tap) [][]byte {
		return [][]byte{decision(t, tp.EventID, proto.ReasonInsufficientFunds, shown)}
	})

	res := tap(t, r.agent, "face-0001", "")
	if res.Decision.Open || res.Decision.Reason != proto.ReasonInsufficientFunds || res.Local || res.TimedOut {
		t.Errorf("result = %+v", res)
	}
	st := r.gate.State()
	if st.Opened != 0 || st.Refused != 1 || st.Last != shown {
		t.Errorf("gate = %+v, want refused once showing %v", st, shown)
	}
	if s := r.agent.Stats(); s.Refused != 1 || s.Opened != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestNoDecisionTimesOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	r := newRig(t, withTimeout(timeout))
	r.connect(t)
	var seen atomic.Int32 // a service that reads taps but never answers
	r.respond(t, func(proto.Tap) [][]byte { seen.Add(1); return nil })

	start := time.Now()
	res := tap(t, r.agent, "face-0001", "")
	took := time.Since(start)
	if !res.TimedOut || res.Decision.Open || res.Decision.Reason != proto.ReasonTimeout || !res.Local {
		t.Errorf("result = %+v, want a local timeout", res)
	}
	if took < timeout || took > timeout+time.Second {
		t.Errorf("Tap took %v, want about %v", took, timeout)
	}
	st := r.gate.State()
	if st.Opened != 0 || st.Refused != 1 || st.Last != proto.ReasonTimeout.Display() {
		t.Errorf("gate = %+v, want refused with the timeout text", st)
	}
	if s := r.agent.Stats(); s.Timeouts != 1 || s.Refused != 1 {
		t.Errorf("stats = %+v", s)
	}
	if seen.Load() != 1 {
		t.Errorf("the service saw %d taps, want 1 (the tap must have been published)", seen.Load())
	}
}

func TestTapContextEnds(t *testing.T) {
	r := newRig(t, withTimeout(5*time.Second))
	r.connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := r.agent.Tap(ctx, "face-0001", "") // nobody answers
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v, want the context's deadline soon", err, time.Since(start))
	}
	if res.Decision.Open || res.TimedOut || res.EventID == "" {
		t.Errorf("result = %+v", res)
	}
	if st := r.gate.State(); st.Refused != 1 || st.Opened != 0 {
		t.Errorf("gate = %+v, want refused", st)
	}
}

func TestDuplicateDecisionIgnored(t *testing.T) {
	r := newRig(t)
	r.connect(t)
	r.respond(t, func(tp proto.Tap) [][]byte {
		d := decision(t, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display())
		return [][]byte{d, d} // as a QoS 1 redelivery would
	})

	res := tap(t, r.agent, "face-0001", "")
	if !res.Decision.Open {
		t.Fatalf("result = %+v", res)
	}
	eventually(t, "the duplicate to be counted", func() bool { return r.agent.Stats().StrayDecisions == 1 })
	if st := r.gate.State(); st.Opened != 1 || st.Refused != 0 {
		t.Errorf("gate = %+v, want opened exactly once", st)
	}
	if s := r.agent.Stats(); s.Opened != 1 || s.MalformedDecisions != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestLateDecisionIgnored(t *testing.T) {
	const timeout = 300 * time.Millisecond
	r := newRig(t, withTimeout(timeout))
	r.connect(t)
	r.respond(t, func(tp proto.Tap) [][]byte {
		time.Sleep(timeout + 300*time.Millisecond) // the rider has been refused by now
		return [][]byte{decision(t, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display())}
	})

	res := tap(t, r.agent, "face-0001", "")
	if !res.TimedOut {
		t.Fatalf("result = %+v, want a timeout", res)
	}
	eventually(t, "the late decision to be counted", func() bool { return r.agent.Stats().StrayDecisions == 1 })
	if st := r.gate.State(); st.Opened != 0 || st.Refused != 1 || st.Last != proto.ReasonTimeout.Display() {
		t.Errorf("gate = %+v, want refused once with the timeout text and never opened", st)
	}
}

func TestMalformedDecisionIgnored(t *testing.T) {
	r := newRig(t)
	r.connect(t)
	r.respond(t, func(tp proto.Tap) [][]byte {
		// Open with a refusal reason: decodes as JSON but is not a valid decision.
		contradictory := strings.Replace(string(decision(t, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display())),
			`"reason":"ok"`, `"reason":"insufficient_funds"`, 1)
		return [][]byte{
			[]byte("not json at all"),
			[]byte(`{"v":2,"event_id":"` + tp.EventID + `"}`),
			[]byte(contradictory),
			decision(t, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display()),
		}
	})

	for i := range 2 {
		res := tap(t, r.agent, "face-0001", "")
		if !res.Decision.Open || res.TimedOut {
			t.Fatalf("tap %d: result = %+v, want opened by the good decision", i, res)
		}
	}
	eventually(t, "the malformed decisions to be counted", func() bool { return r.agent.Stats().MalformedDecisions == 6 })
	if st := r.gate.State(); st.Opened != 2 || st.Refused != 0 {
		t.Errorf("gate = %+v", st)
	}
	if s := r.agent.Stats(); s.StrayDecisions != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestTapPayload(t *testing.T) {
	now := time.Date(2026, 11, 24, 7, 30, 0, 123_456_789, time.FixedZone("ICT", 7*3600))
	r := newRig(t, withNow(func() time.Time { return now }), withKind(proto.KindParkingEntry))
	r.connect(t)
	type seen struct {
		topic string
		raw   []byte
	}
	got := make(chan seen, 1)
	subscribe(t, r.svc, r.mq.Topics.Filter(proto.ChanTaps), func(_ mqtt.Client, m mqtt.Message) {
		got <- seen{m.Topic(), m.Payload()}
		tp, err := proto.DecodeTap(m.Payload())
		if err == nil {
			publish(t, r.svc, r.mq.Topics.Decisions(testSite, r.device), false,
				decision(t, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display()))
		}
	})

	res := tap(t, r.agent, "face-0042", "30A-123.45")
	s := <-got
	if want := r.mq.Topics.Taps(testSite, r.device); s.topic != want {
		t.Errorf("topic = %s, want %s", s.topic, want)
	}
	tp, err := proto.DecodeTap(s.raw)
	if err != nil {
		t.Fatalf("DecodeTap: %v", err)
	}
	want := proto.Tap{
		V:          proto.Version,
		EventID:    res.EventID,
		Device:     r.device,
		Site:       testSite,
		Kind:       proto.KindParkingEntry,
		Assertion:  assertionFor("face-0042"),
		CapturedAt: proto.At(now),
		Plate:      "30A-123.45",
	}
	if tp != want {
		t.Errorf("tap = %+v\nwant %+v", tp, want)
	}
	if err := proto.CheckEventID(res.EventID); err != nil {
		t.Error(err)
	}
	if r.matcher.devices[0] != r.device {
		t.Errorf("matcher asked for device %q, want %q", r.matcher.devices[0], r.device)
	}
}

// retained returns the retained message on topic, as a new subscriber sees it.
func retained(t *testing.T, r *rig, topic string) mqtt.Message {
	t.Helper()
	c := serviceClient(t, r.mq)
	got := make(chan mqtt.Message, 1)
	subscribe(t, c, topic, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- m:
		default:
		}
	})
	defer c.Unsubscribe(topic)
	select {
	case m := <-got:
		if !m.Retained() {
			t.Fatalf("%s: message not retained", topic)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no retained message", topic)
		return nil
	}
}

func TestStatusOnlineThenOffline(t *testing.T) {
	r := newRig(t, withSoftware("vnpass-agent/test"))
	r.connect(t)
	topic := r.mq.Topics.Status(testSite, r.device)

	st, err := proto.DecodeStatus(retained(t, r, topic).Payload())
	if err != nil {
		t.Fatal(err)
	}
	if st.State != proto.StateOnline || st.Device != r.device || st.Site != testSite ||
		st.Kind != proto.KindMetroEntry || st.Software != "vnpass-agent/test" {
		t.Errorf("status after Connect = %+v", st)
	}

	r.agent.Close()
	st, err = proto.DecodeStatus(retained(t, r, topic).Payload())
	if err != nil {
		t.Fatal(err)
	}
	if st.State != proto.StateOffline || st.Device != r.device {
		t.Errorf("status after Close = %+v", st)
	}
	if _, err := r.agent.Tap(context.Background(), "face-0001", ""); !errors.Is(err, agent.ErrClosed) {
		t.Errorf("Tap after Close: %v, want ErrClosed", err)
	}
}

func TestSessionPersists(t *testing.T) {
	r := newRig(t)
	r.connect(t)
	r.agent.Close()

	// A decision sent while the gate is away waits in its session...
	id := proto.NewEventID(time.Now())
	publish(t, r.svc, r.mq.Topics.Decisions(testSite, r.device), false, decision(t, id, proto.ReasonOK, proto.ReasonOK.Display()))

	// ...and reaches the gate when it is back (here for no waiting tap).
	again, err := agent.New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(again.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := again.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the queued decision", func() bool { return again.Stats().StrayDecisions == 1 })
}

func TestReconnectAfterLinkLoss(t *testing.T) {
	const timeout = 500 * time.Millisecond
	r := newRig(t, withTimeout(timeout))
	conns := make(chan net.Conn, 10)
	var down atomic.Bool // while set, the network refuses new connections
	agent.SetOpenConn(r.agent, func(uri *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
		if down.Load() {
			return nil, errors.New("test: network down")
		}
		c, err := net.Dial("tcp", uri.Host)
		if err == nil {
			conns <- c
		}
		return c, err
	})
	r.connect(t)
	r.respond(t, func(tp proto.Tap) [][]byte {
		return [][]byte{decision(t, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display())}
	})
	statusTopic := r.mq.Topics.Status(testSite, r.device)
	states := make(chan proto.State, 10)
	subscribe(t, r.svc, statusTopic, func(_ mqtt.Client, m mqtt.Message) {
		if len(m.Payload()) == 0 {
			return // the cleanup clearing the retained status
		}
		st, err := proto.DecodeStatus(m.Payload())
		if err != nil {
			t.Errorf("status: %v", err)
			return
		}
		states <- st.State
	})
	next := func() proto.State {
		t.Helper()
		select {
		case s := <-states:
			return s
		case <-time.After(15 * time.Second):
			t.Fatal("no status")
			return ""
		}
	}
	if s := next(); s != proto.StateOnline {
		t.Fatalf("status after Connect = %s", s)
	}

	// Cut the link without a DISCONNECT, as a dying network would (a local
	// Close would look deliberate to paho), and keep the network down: the
	// broker publishes the last will, retained.
	down.Store(true)
	if err := (<-conns).(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if s := next(); s != proto.StateOffline {
		t.Fatalf("status after the link was cut = %s, want the offline will", s)
	}
	if st, err := proto.DecodeStatus(retained(t, r, statusTopic).Payload()); err != nil || st.State != proto.StateOffline {
		t.Fatalf("retained status while away = %+v, %v; want offline", st, err)
	}

	// A rider tapping meanwhile is refused at once, and the tap is dropped
	// rather than kept by paho and sent, stale, once the link is back.
	start := time.Now()
	res, err := r.agent.Tap(context.Background(), "face-0001", "")
	if took := time.Since(start); !errors.Is(err, agent.ErrNotConnected) || res.Decision.Open || took > timeout/2 {
		t.Errorf("tap while away: %+v, %v after %v; want refused at once as not connected", res, err, took)
	}

	// The network comes back: paho reconnects, the agent says it is back and
	// taps flow again.
	down.Store(false)
	if s := next(); s != proto.StateOnline {
		t.Fatalf("status after reconnecting = %s, want online", s)
	}
	if res := tap(t, r.agent, "face-0002", ""); !res.Decision.Open {
		t.Errorf("tap after reconnecting: %+v", res)
	}
	time.Sleep(200 * time.Millisecond) // room for a stale tap's decision to come back
	if s := r.agent.Stats(); s.StrayDecisions != 0 || s.UplinkErrors != 1 {
		t.Errorf("stats = %+v; want the tap made while away dropped, not sent late", s)
	}
	if st := r.gate.State(); st.Opened != 1 || st.Refused != 1 {
		t.Errorf("gate = %+v, want refused once (while away) and opened once", st)
	}
}

func pushConfig(t *testing.T, r *rig, version int64, timeout time.Duration) {
	t.Helper()
	b, err := proto.Config{
		Version:           version,
		Device:            r.device,
		Site:              testSite,
		Kind:              proto.KindMetroEntry,
		DecisionTimeoutMS: int(timeout / time.Millisecond),
		IssuedAt:          proto.At(time.Now()),
	}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	publish(t, r.svc, r.mq.Topics.Config(testSite, r.device), true, b)
}

func TestConfigPush(t *testing.T) {
	r := newRig(t, withTimeout(3*time.Second))
	// A config retained before the gate comes up is applied when it connects.
	pushConfig(t, r, 5, 700*time.Millisecond)
	r.connect(t)
	eventually(t, "config v5", func() bool { return r.agent.Stats().ConfigsApplied == 1 })
	if got := r.agent.DecisionTimeout(); got != 700*time.Millisecond {
		t.Fatalf("decision timeout = %v after config v5, want 700ms", got)
	}

	// An older version is ignored.
	pushConfig(t, r, 3, 5*time.Second)
	eventually(t, "config v3 to be ignored", func() bool { return r.agent.Stats().ConfigsIgnored == 1 })
	if got := r.agent.DecisionTimeout(); got != 700*time.Millisecond {
		t.Fatalf("decision timeout = %v after the older config v3, want 700ms still", got)
	}
	// So is the same version again.
	pushConfig(t, r, 5, 5*time.Second)
	eventually(t, "config v5 again to be ignored", func() bool { return r.agent.Stats().ConfigsIgnored == 2 })

	// A newer one applies, and taps wait that long.
	pushConfig(t, r, 6, 250*time.Millisecond)
	eventually(t, "config v6", func() bool { return r.agent.Stats().ConfigsApplied == 2 })
	if got := r.agent.DecisionTimeout(); got != 250*time.Millisecond {
		t.Fatalf("decision timeout = %v after config v6, want 250ms", got)
	}
	start := time.Now()
	res := tap(t, r.agent, "face-0001", "") // nobody answers
	if took := time.Since(start); !res.TimedOut || took < 250*time.Millisecond || took > 1250*time.Millisecond {
		t.Errorf("tap with a 250ms timeout: timed out %v after %v", res.TimedOut, took)
	}

	// Garbage on the config topic is counted and changes nothing.
	publish(t, r.svc, r.mq.Topics.Config(testSite, r.device), true, []byte(`{"v":1,"version":99}`))
	eventually(t, "the malformed config to be counted", func() bool { return r.agent.Stats().MalformedConfigs == 1 })
	if got := r.agent.DecisionTimeout(); got != 250*time.Millisecond {
		t.Errorf("decision timeout = %v after a malformed config, want 250ms", got)
	}
}

func TestNoMatchRefusesWithoutPublishing(t *testing.T) {
	r := newRig(t)
	r.connect(t)
	var mu sync.Mutex
	var faces []string
	r.respond(t, func(tp proto.Tap) [][]byte {
		mu.Lock()
		faces = append(faces, faceOf(tp.Assertion))
		mu.Unlock()
		return [][]byte{decision(t, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display())}
	})

	res := tap(t, r.agent, "stranger-7", "")
	if res.EventID != "" || res.Decision.Open || !res.Local || res.TimedOut ||
		res.Decision.Reason != proto.ReasonAssertionInvalid || res.Decision.Display != agent.DisplayNoMatch {
		t.Errorf("result = %+v", res)
	}
	if st := r.gate.State(); st.Refused != 1 || st.Last != agent.DisplayNoMatch {
		t.Errorf("gate = %+v, want refused with %v", st, agent.DisplayNoMatch)
	}
	// A known face after it: once its decision is back, everything the
	// service was ever sent has arrived (one connection, in order).
	if res := tap(t, r.agent, "face-0001", ""); !res.Decision.Open {
		t.Fatalf("known face: %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(faces) != 1 || faces[0] != "face-0001" {
		t.Errorf("the service saw taps from %v, want only face-0001", faces)
	}
	if s := r.agent.Stats(); s.NoMatch != 1 || s.Taps != 2 || s.Opened != 1 || s.Refused != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestMatcherFailureRefuses(t *testing.T) {
	r := newRig(t)
	r.connect(t)
	r.matcher.err = errVNeIDDown
	res, err := r.agent.Tap(context.Background(), "face-0001", "")
	if !errors.Is(err, errVNeIDDown) {
		t.Errorf("err = %v, want the matcher's", err)
	}
	if res.Decision.Open || res.Decision.Reason != proto.ReasonInternal || res.EventID != "" {
		t.Errorf("result = %+v", res)
	}
	if st := r.gate.State(); st.Refused != 1 || st.Last != proto.ReasonInternal.Display() {
		t.Errorf("gate = %+v", st)
	}
	if s := r.agent.Stats(); s.MatchErrors != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestConcurrentTapsGetTheirOwnDecisions(t *testing.T) {
	const n = 50
	r := newRig(t, withTimeout(10*time.Second))
	r.connect(t)
	// The service waits for all n taps and answers them in reverse order,
	// each with a fare that says which face it was for.
	var mu sync.Mutex
	var taps []proto.Tap
	r.respond(t, func(tp proto.Tap) [][]byte {
		mu.Lock()
		defer mu.Unlock()
		taps = append(taps, tp)
		if len(taps) < n {
			return nil
		}
		var out [][]byte
		for i := len(taps) - 1; i >= 0; i-- {
			var face int64
			fmt.Sscanf(faceOf(taps[i].Assertion), "face-%d", &face)
			b, err := proto.Decision{
				EventID:   taps[i].EventID,
				Open:      true,
				Reason:    proto.ReasonOK,
				Display:   proto.ReasonOK.Display(),
				FareVND:   &face,
				DecidedAt: proto.At(time.Now()),
			}.Encode()
			if err != nil {
				t.Error(err)
			}
			out = append(out, b)
		}
		return out
	})

	results := make([]agent.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = r.agent.Tap(context.Background(), fmt.Sprintf("face-%d", i), "")
		})
	}
	wg.Wait()
	ids := make(map[string]bool)
	for i, res := range results {
		if errs[i] != nil {
			t.Errorf("tap %d: %v", i, errs[i])
			continue
		}
		if !res.Decision.Open || res.Decision.EventID != res.EventID || res.Decision.FareVND == nil || *res.Decision.FareVND != int64(i) {
			t.Errorf("tap %d got %+v", i, res)
		}
		if ids[res.EventID] {
			t.Errorf("event id %s used twice", res.EventID)
		}
		ids[res.EventID] = true
	}
	if st := r.gate.State(); st.Opened != n || st.Refused != 0 {
		t.Errorf("gate = %+v", st)
	}
	if s := r.agent.Stats(); s.Taps != n || s.Opened != n || s.StrayDecisions != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestLogsCarryNoFaceOrAssertion(t *testing.T) {
	var logs syncBuffer
	r := newRig(t, withTimeout(300*time.Millisecond),
		withLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	r.connect(t)
	var n atomic.Int32
	r.respond(t, func(tp proto.Tap) [][]byte {
		if n.Add(1) == 2 {
			return nil // let the second one time out
		}
		return [][]byte{
			[]byte(`{"v":1,"event_id":"bad"}`),
			decision(t, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display()),
			decision(t, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display()),
		}
	})
	tap(t, r.agent, "face-secret1", "")
	tap(t, r.agent, "face-secret2", "")
	tap(t, r.agent, "stranger-secret3", "")
	eventually(t, "the duplicate", func() bool { return r.agent.Stats().StrayDecisions == 1 })

	out := logs.String()
	for _, secret := range []string{"secret1", "secret2", "secret3", "c2lnbmF0dXJl"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
	}
	for _, key := range []string{`"device":"` + r.device + `"`, `"event_id":"`, `"reason":"timeout"`, `"latency_ms":`} {
		if !strings.Contains(out, key) {
			t.Errorf("logs lack %s:\n%s", key, out)
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// BenchmarkTap is the round trip of one tap through the real broker, with
// the test playing an instant fare service.
func BenchmarkTap(b *testing.B) {
	r := newRig(b, withLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		func(c *agent.Config) { c.Gate = gatesim.New("bench", nil) })
	r.connect(b)
	r.respond(b, func(tp proto.Tap) [][]byte {
		return [][]byte{decision(b, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display())}
	})
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := r.agent.Tap(context.Background(), "face-0001", "")
			if err != nil || !res.Decision.Open {
				b.Errorf("tap: %+v, %v", res, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "taps/s")
}
