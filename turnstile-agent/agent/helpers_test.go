package agent_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
)

const testSite = "hn2a-cat-linh"

// fakeMatcher knows every face ref starting with "face-": its assertion is a
// compact-JWS-shaped string that embeds the face ref, so a test can tell
// which face a tap came from. Anything else is no match.
type fakeMatcher struct {
	mu      sync.Mutex
	devices []string
	err     error // if set, returned for every face
}

func assertionFor(faceRef string) string {
	return "eyJhbGciOiJFZERTQSJ9." + faceRef + ".c2lnbmF0dXJl"
}

func faceOf(assertion string) string {
	_, rest, _ := strings.Cut(assertion, ".")
	face, _, _ := strings.Cut(rest, ".")
	return face
}

func (m *fakeMatcher) Match(ctx context.Context, faceRef, device string) (string, time.Time, error) {
	m.mu.Lock()
	m.devices = append(m.devices, device)
	err := m.err
	m.mu.Unlock()
	if err != nil {
		return "", time.Time{}, err
	}
	if !strings.HasPrefix(faceRef, "face-") {
		return "", time.Time{}, fmt.Errorf("fake vneid: %w", agent.ErrNoMatch)
	}
	return assertionFor(faceRef), time.Now().Add(time.Minute), nil
}

// rig is one agent on the real broker with a simulated gate, and a service
// connection to play the cloud side.
type rig struct {
	mq      testenv.MQTT
	device  string
	gate    *gatesim.Gate
	matcher *fakeMatcher
	cfg     agent.Config
	agent   *agent.Agent
	svc     mqtt.Client
}

type rigOption func(*agent.Config)

func withTimeout(d time.Duration) rigOption  { return func(c *agent.Config) { c.DecisionTimeout = d } }
func withNow(now func() time.Time) rigOption { return func(c *agent.Config) { c.Now = now } }
func withKind(k proto.Kind) rigOption        { return func(c *agent.Config) { c.Kind = k } }
func withLogger(l *slog.Logger) rigOption    { return func(c *agent.Config) { c.Logger = l } }
func withSoftware(s string) rigOption        { return func(c *agent.Config) { c.Software = s } }

// newRig creates the agent and the service connection, but does not connect
// the agent (connect does), so a test can prepare retained messages first.
func newRig(t testing.TB, opts ...rigOption) *rig {
	t.Helper()
	mq := testenv.Broker(t)
	r := &rig{
		mq:      mq,
		device:  testenv.Name("g"),
		matcher: &fakeMatcher{},
	}
	r.gate = gatesim.New(r.device, t.Output())
	cfg := agent.Config{
		Device:          r.device,
		Site:            testSite,
		Kind:            proto.KindMetroEntry,
		Topics:          mq.Topics,
		BrokerURL:       mq.URL,
		Username:        mq.GateUser,
		Password:        mq.GatePassword,
		DecisionTimeout: 3 * time.Second,
		Matcher:         r.matcher,
		Gate:            r.gate,
		Logger:          slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = cfg
	r.agent = a
	r.svc = serviceClient(t, mq)
	// Cleanups run last-registered first: the agent closes, then its traces
	// on the broker go.
	t.Cleanup(func() { r.forget(t) })
	t.Cleanup(a.Close)
	return r
}

func (r *rig) connect(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.agent.Connect(ctx); err != nil {
		t.Fatal(err)
	}
}

// forget removes what the test left on the broker: the retained status and
// config, and the gate's persistent session.
func (r *rig) forget(t testing.TB) {
	for _, topic := range []string{r.mq.Topics.Status(testSite, r.device), r.mq.Topics.Config(testSite, r.device)} {
		publish(t, r.svc, topic, true, nil)
	}
	opts := mqtt.NewClientOptions().AddBroker(r.mq.URL).
		SetClientID("gate-" + r.device).SetCleanSession(true).
		SetUsername(r.mq.GateUser).SetPassword(r.mq.GatePassword)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Errorf("drop the gate's session: %v", tok.Error())
		return
	}
	c.Disconnect(100)
}

func serviceClient(t testing.TB, mq testenv.MQTT) mqtt.Client {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(mq.URL).
		SetClientID(testenv.Name("svc-")).SetCleanSession(true).
		SetUsername(mq.ServiceUser).SetPassword(mq.ServicePassword).
		// Handlers run on their own goroutines and may wait for PUBACKs.
		SetOrderMatters(false)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("service connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t testing.TB, c mqtt.Client, topic string, retained bool, payload []byte) {
	t.Helper()
	tok := c.Publish(topic, 1, retained, payload)
	if !tok.WaitTimeout(10 * time.Second) {
		t.Errorf("publish %s: no PUBACK", topic)
		return
	}
	if err := tok.Error(); err != nil {
		t.Errorf("publish %s: %v", topic, err)
	}
}

func subscribe(t testing.TB, c mqtt.Client, filter string, h mqtt.MessageHandler) {
	t.Helper()
	tok := c.Subscribe(filter, 1, h)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	if q := tok.(*mqtt.SubscribeToken).Result()[filter]; q == 0x80 {
		t.Fatalf("subscribe %s: refused", filter)
	}
}

// respond plays the fare service for this rig's device: every tap it sees is
// decoded and passed to answer, and whatever payloads answer returns are
// published, in order, on the device's decisions topic.
func (r *rig) respond(t testing.TB, answer func(tap proto.Tap) [][]byte) {
	t.Helper()
	decisions := r.mq.Topics.Decisions(testSite, r.device)
	subscribe(t, r.svc, r.mq.Topics.Taps(testSite, r.device), func(_ mqtt.Client, m mqtt.Message) {
		tap, err := proto.DecodeTap(m.Payload())
		if err != nil {
			t.Errorf("service: tap does not decode: %v", err)
			return
		}
		for _, p := range answer(tap) {
			publish(t, r.svc, decisions, false, p)
		}
	})
}

// decision encodes the decision on tap with reason r and display d.
func decision(t testing.TB, eventID string, r proto.Reason, d proto.Display) []byte {
	t.Helper()
	b, err := proto.Decision{
		EventID:   eventID,
		Open:      r == proto.ReasonOK,
		Reason:    r,
		Display:   d,
		DecidedAt: proto.At(time.Now()),
	}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tap(t testing.TB, a *agent.Agent, faceRef, plate string) agent.Result {
	t.Helper()
	res, err := a.Tap(context.Background(), faceRef, plate)
	if err != nil {
		t.Fatalf("Tap(%s): %v", faceRef, err)
	}
	return res
}

var errVNeIDDown = errors.New("fake vneid: connection refused")
