package tapmqtt

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
)

// echo decides every tap "ok" and remembers who handled it; it fails the
// first `fail` calls to stand for a database outage.
type echo struct {
	topics  proto.Topics
	handled atomic.Int64
	fail    atomic.Int64
}

func (e *echo) Handle(_ context.Context, topic string, payload []byte) (admission.Reply, error) {
	t, err := proto.DecodeTap(payload)
	if err != nil {
		return admission.Reply{}, err
	}
	if e.fail.Add(-1) >= 0 {
		return admission.Reply{}, errors.New("database away")
	}
	e.handled.Add(1)
	d := proto.Decision{EventID: t.EventID, Open: true, Reason: proto.ReasonOK, Display: proto.ReasonOK.Display(), DecidedAt: proto.At(time.Now())}
	b, err := d.Encode()
	return admission.Reply{Topic: e.topics.Decisions(t.Site, t.Device), Payload: b, EventID: t.EventID}, err
}

func start(t *testing.T, b testenv.MQTT, h Handler) *Ingestor { return startWith(t, b, h, nil) }

// startWith is start with the config changed by edit first.
func startWith(t *testing.T, b testenv.MQTT, h Handler, edit func(*Config)) *Ingestor {
	t.Helper()
	cfg := Config{BrokerURL: b.URL, Username: b.ServiceUser, Password: b.ServicePassword,
		ClientID: testenv.Name("fare-t-"), Topics: b.Topics, Handler: h, Retry: 20 * time.Millisecond,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	if edit != nil {
		edit(&cfg)
	}
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return in
}

// gate publishes n taps and waits for their decisions.
func gate(t *testing.T, b testenv.MQTT, n int, junk ...[]byte) (got int) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL).SetClientID(testenv.Name("g-")).
		SetUsername(b.GateUser).SetPassword(b.GatePassword))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	var mu sync.Mutex
	seen := map[string]bool{}
	done := make(chan struct{}, n)
	c.Subscribe(b.Topics.Decisions("s1", "d1"), 1, func(_ mqtt.Client, m mqtt.Message) {
		d, err := proto.DecodeDecision(m.Payload())
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen[d.EventID] {
			seen[d.EventID] = true
			done <- struct{}{}
		}
	}).WaitTimeout(5 * time.Second)
	for _, j := range junk {
		c.Publish(b.Topics.Taps("s1", "d1"), 1, false, j).WaitTimeout(5 * time.Second)
	}
	for i := 0; i < n; i++ {
		tp := proto.Tap{EventID: proto.NewEventID(time.Now()), Device: "d1", Site: "s1", Kind: proto.KindMetroEntry,
			Assertion: "a.b.c", CapturedAt: proto.At(time.Now())}
		p, _ := tp.Encode()
		if tok := c.Publish(b.Topics.Taps("s1", "d1"), 1, false, p); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	timeout := time.After(10 * time.Second)
	for got < n {
		select {
		case <-done:
			got++
		case <-timeout:
			return got
		}
	}
	return got
}

// A replica that dies without unsubscribing must not keep a share of the
// taps: with clean sessions the broker forgets it at once.
func TestDeadReplicaTakesNoShare(t *testing.T) {
	b := testenv.Broker(t)
	h1, h2 := &echo{topics: b.Topics}, &echo{topics: b.Topics}
	live := start(t, b, h1)
	defer live.Close(time.Second)
	dead := start(t, b, h2)
	dead.client.Disconnect(0) // no unsubscribe, as in a crash
	dead.cancel()
	if got := gate(t, b, 100); got != 100 {
		t.Fatalf("%d of 100 taps answered with one replica dead", got)
	}
	if h1.handled.Load() != 100 {
		t.Errorf("live replica handled %d", h1.handled.Load())
	}
}

// Malformed taps are acknowledged and counted; a failing handler is
// retried until the tap is recorded.
func TestMalformedAndRetries(t *testing.T) {
	b := testenv.Broker(t)
	h := &echo{topics: b.Topics}
	h.fail.Store(3)
	in := start(t, b, h)
	defer in.Close(time.Second)
	if got := gate(t, b, 5, []byte("{"), []byte(`{"v":1}`)); got != 5 {
		t.Fatalf("%d of 5 answered", got)
	}
	waitFor := time.Now().Add(5 * time.Second)
	for (in.Stats().Malformed.Load() != 2 || in.Stats().Replied.Load() != 5) && time.Now().Before(waitFor) {
		time.Sleep(20 * time.Millisecond)
	}
	s := in.Stats()
	if s.Malformed.Load() != 2 || s.Retries.Load() != 3 || s.Replied.Load() != 5 {
		t.Errorf("malformed %d, retries %d, replied %d", s.Malformed.Load(), s.Retries.Load(), s.Replied.Load())
	}
}

// poison fails every attempt at the taps whose event id it holds, as a tap
// the database refuses each time would, and echoes the others.
type poison struct {
	echo
	bad      map[string]bool
	attempts atomic.Int64 // at the bad taps
}

func (p *poison) Handle(ctx context.Context, topic string, payload []byte) (admission.Reply, error) {
	if t, err := proto.DecodeTap(payload); err == nil && p.bad[t.EventID] {
		p.attempts.Add(1)
		return admission.Reply{}, errors.New("journeys_one_open violated")
	}
	return p.echo.Handle(ctx, topic, payload)
}

// A tap that fails every time is given back to the gate after GiveUpAfter,
// not retried for ever: the one worker goes on to the taps behind it, and
// a copy the gate sends again is tried once.
func TestTapFailingEveryTimeIsGivenUp(t *testing.T) {
	b := testenv.Broker(t)
	tp := proto.Tap{EventID: proto.NewEventID(time.Now()), Device: "d1", Site: "s1", Kind: proto.KindMetroEntry,
		Assertion: "a.b.c", CapturedAt: proto.At(time.Now())}
	bad, _ := tp.Encode()
	h := &poison{echo: echo{topics: b.Topics}, bad: map[string]bool{tp.EventID: true}}
	in := startWith(t, b, h, func(c *Config) { c.Workers, c.GiveUpAfter = 1, 300*time.Millisecond })
	defer in.Close(time.Second)

	if got := gate(t, b, 3, bad); got != 3 {
		t.Fatalf("%d of 3 taps behind the failing one answered", got)
	}
	s := in.Stats()
	if s.GivenUp.Load() != 1 || h.attempts.Load() < 5 {
		t.Errorf("given up %d after %d attempts; want 1 after retries for 300ms", s.GivenUp.Load(), h.attempts.Load())
	}
	before := h.attempts.Load()
	if got := gate(t, b, 1, bad); got != 1 {
		t.Fatal("the tap behind the copy was not answered")
	}
	if s.GivenUp.Load() != 2 || h.attempts.Load() != before+1 {
		t.Errorf("the copy sent again: given up %d (want 2), %d attempts (want 1)", s.GivenUp.Load(), h.attempts.Load()-before)
	}
	// Counted once the broker took the decision, a moment after the gate
	// may have it.
	for deadline := time.Now().Add(5 * time.Second); s.Replied.Load() < 4 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Replied.Load() != 4 {
		t.Errorf("replied %d, want 4", s.Replied.Load())
	}
}
