package tapmqtt

import (
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
)

// msg is a tap message for the limiter's unit tests.
type msg struct {
	topic string
	n     int
}

func (m msg) Duplicate() bool   { return false }
func (m msg) Qos() byte         { return 1 }
func (m msg) Retained() bool    { return false }
func (m msg) Topic() string     { return m.topic }
func (m msg) MessageID() uint16 { return uint16(m.n) }
func (m msg) Payload() []byte   { return nil }
func (m msg) Ack()              {}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func testLimiter(l Limit, c *clock) *limiter {
	lim := newLimiter(l, c.now)
	lim.release = func(string) {}
	lim.report = func(string, int64, int64) {}
	return lim
}

// Within the burst taps go at once; over it they are held, in order, and
// released as the bucket refills; over the hold they are dropped. Another
// device has its own bucket.
func TestLimiterPacesThenDrops(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	lim := testLimiter(Limit{Rate: 10, Burst: 5, Hold: 3}, c)
	var releases []string
	lim.release = func(topic string) { releases = append(releases, topic) }
	var got []verdict
	for i := 0; i < 10; i++ {
		got = append(got, lim.admit("a", msg{"a", i}))
	}
	want := []verdict{admitted, admitted, admitted, admitted, admitted, held, held, held, dropped, dropped}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("verdicts %v, want %v", got, want)
	}
	if len(releases) != 1 {
		t.Errorf("%d releases scheduled, want 1", len(releases))
	}
	if v := lim.admit("b", msg{"b", 0}); v != admitted {
		t.Errorf("another device: %v", v)
	}
	// Nothing earned yet: wait for one token.
	out, wait := lim.next("a")
	if len(out) != 0 || wait != 100*time.Millisecond {
		t.Errorf("next at once: %d taps, wait %v", len(out), wait)
	}
	c.advance(250 * time.Millisecond) // 2.5 tokens
	out, wait = lim.next("a")
	if len(out) != 2 || out[0].(msg).n != 5 || out[1].(msg).n != 6 || wait != 50*time.Millisecond {
		t.Errorf("after 250ms: %v, wait %v", out, wait)
	}
	// A tap arriving while some are held queues behind them.
	if v := lim.admit("a", msg{"a", 10}); v != held {
		t.Errorf("tap behind held ones: %v", v)
	}
	c.advance(time.Second)
	out, wait = lim.next("a")
	if len(out) != 2 || out[0].(msg).n != 7 || out[1].(msg).n != 10 || wait != 0 {
		t.Errorf("after 1s: %v, wait %v", out, wait)
	}
	if v := lim.admit("a", msg{"a", 11}); v != admitted {
		t.Errorf("after the release: %v", v)
	}
}

// A gate running the turnstile agent drains an offline backlog at the
// agent's default pace (200 taps/s in batches of 20), never more than its
// window (512) sent and undecided. Against the default limit (20/s), the
// drain is slowed, and not one tap is dropped.
func TestAgentDrainIsPacedNotDropped(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := Limit{}
	l.ensureDefaults()
	lim := testLimiter(l, c)
	const backlog, window, drainRate, batch = 3000, 512, 200, 20
	sent, decided, drops := 0, 0, 0
	agentTokens := float64(batch)
	step := 10 * time.Millisecond
	start := c.t
	for decided < backlog && c.t.Sub(start) < time.Hour {
		agentTokens = min(batch, agentTokens+step.Seconds()*drainRate)
		for agentTokens >= batch && sent < backlog && sent-decided+batch <= window {
			for i := 0; i < batch; i++ {
				switch lim.admit("gate", msg{"gate", sent}) {
				case admitted:
					decided++
				case dropped:
					drops++
				}
				sent++
			}
			agentTokens -= batch
		}
		out, _ := lim.next("gate")
		decided += len(out)
		c.advance(step)
	}
	took := c.t.Sub(start)
	t.Logf("a %d-tap backlog drained in %s (agent alone: %s)", backlog, took, time.Duration(backlog/drainRate)*time.Second)
	if drops != 0 || decided != backlog {
		t.Fatalf("%d dropped, %d of %d decided", drops, decided, backlog)
	}
	if took > time.Duration(backlog/l.Rate+10)*time.Second {
		t.Errorf("drain took %s at %v taps/s", took, l.Rate)
	}
}

// Quiet devices are forgotten, and a device over its rate is reported
// once a minute, with what it sent over the rate since.
func TestLimiterReportsAndForgets(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	lim := testLimiter(Limit{Rate: 1, Burst: 1, Hold: 1}, c)
	var reports []string
	lim.report = func(topic string, paced, dropped int64) {
		reports = append(reports, fmt.Sprintf("%s %d/%d", topic, paced, dropped))
	}
	for i := 0; i < 5; i++ {
		lim.admit("noisy", msg{"noisy", i}) // 1 admitted, 1 held, 3 dropped
	}
	lim.admit("quiet", msg{"quiet", 0})
	if fmt.Sprint(reports) != "[noisy 1/0]" {
		t.Errorf("reports %v, want the first tap over the rate at once", reports)
	}
	lim.next("noisy")
	c.advance(2 * time.Second)
	lim.next("noisy") // the held tap goes
	c.advance(time.Minute)
	lim.admit("other", msg{"other", 0}) // sweeps
	if fmt.Sprint(reports) != "[noisy 1/0 noisy 0/3]" {
		t.Errorf("reports %v, want the 3 drops reported at the sweep", reports)
	}
	if n := lim.devices(); n != 1 {
		t.Errorf("%d devices remembered after a quiet minute, want 1 (the one just seen)", n)
	}
}

// On the broker: one device floods; another device's taps are all decided
// while the flooder is paced and dropped; the flooder, sending again what
// got no decision as the agent does, ends with every tap decided.
func TestFloodingDeviceLimited(t *testing.T) {
	b := testenv.Broker(t)
	h := &echo{topics: b.Topics}
	in := startWith(t, b, h, func(c *Config) { c.Retry, c.Limit = 0, Limit{Rate: 100, Burst: 20, Hold: 50} })
	defer in.Close(time.Second)

	flooder := newTestGate(t, b, "s1", "flood")
	other := newTestGate(t, b, "s1", "d2")
	const flood = 600
	taps := make([][]byte, flood)
	for i := range taps {
		_, taps[i] = flooder.tap()
	}
	go func() {
		for _, p := range taps {
			flooder.c.Publish(b.Topics.Taps("s1", "flood"), 1, false, p)
		}
	}()
	for i := 0; i < 20; i++ {
		id, p := other.tap()
		other.publish(p)
		if !other.wait(id, 5*time.Second) {
			t.Fatalf("other device's tap %d not decided in 5s during the flood", i)
		}
	}
	// As the agent: send again, under the same event id, what got no
	// decision, until everything is decided.
	deadline := time.Now().Add(60 * time.Second)
	for rounds := 0; ; rounds++ {
		time.Sleep(time.Second)
		missing := flooder.undecided(taps)
		if len(missing) == 0 {
			t.Logf("flood of %d decided after %d resend rounds; paced %d, dropped %d", flood, rounds, in.Stats().Paced.Load(), in.Stats().RateDropped.Load())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d flood taps still undecided", len(missing), flood)
		}
		for _, p := range missing {
			flooder.publish(p)
		}
	}
	if in.Stats().RateDropped.Load() == 0 || in.Stats().Paced.Load() == 0 {
		t.Errorf("flooder was not limited: paced %d, dropped %d", in.Stats().Paced.Load(), in.Stats().RateDropped.Load())
	}
}

type testGate struct {
	t           *testing.T
	b           testenv.MQTT
	site, dev   string
	c           mqtt.Client
	mu          sync.Mutex
	decided     map[string]bool
	newDecision chan struct{}
}

func newTestGate(t *testing.T, b testenv.MQTT, site, dev string) *testGate {
	g := &testGate{t: t, b: b, site: site, dev: dev, decided: map[string]bool{}, newDecision: make(chan struct{}, 1)}
	g.c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL).SetClientID(testenv.Name("g-")).
		SetUsername(b.GateUser).SetPassword(b.GatePassword).SetOrderMatters(false))
	if tok := g.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { g.c.Disconnect(100) })
	tok := g.c.Subscribe(b.Topics.Decisions(site, dev), 1, func(_ mqtt.Client, m mqtt.Message) {
		d, err := proto.DecodeDecision(m.Payload())
		if err != nil {
			t.Error(err)
			return
		}
		g.mu.Lock()
		g.decided[d.EventID] = true
		g.mu.Unlock()
		select {
		case g.newDecision <- struct{}{}:
		default:
		}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	return g
}

func (g *testGate) tap() (string, []byte) {
	tp := proto.Tap{EventID: proto.NewEventID(time.Now()), Device: g.dev, Site: g.site, Kind: proto.KindMetroEntry,
		Assertion: "a.b.c", CapturedAt: proto.At(time.Now())}
	p, err := tp.Encode()
	if err != nil {
		g.t.Fatal(err)
	}
	return tp.EventID, p
}

func (g *testGate) publish(p []byte) {
	if tok := g.c.Publish(g.b.Topics.Taps(g.site, g.dev), 1, false, p); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		g.t.Fatal(tok.Error())
	}
}

func (g *testGate) wait(id string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		g.mu.Lock()
		ok := g.decided[id]
		g.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-g.newDecision:
		case <-deadline:
			return false
		}
	}
}

func (g *testGate) undecided(taps [][]byte) [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out [][]byte
	for _, p := range taps {
		tp, err := proto.DecodeTap(p)
		if err != nil {
			g.t.Fatal(err)
		}
		if !g.decided[tp.EventID] {
			out = append(out, p)
		}
	}
	return out
}
