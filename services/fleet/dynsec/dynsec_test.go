package dynsec_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/fleet/dynsec"
)

// inbox records what one client receives.
type inbox struct {
	mu  sync.Mutex
	got map[string][]string // topic -> payloads
}

func (in *inbox) handle(_ mqtt.Client, m mqtt.Message) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.got[m.Topic()] = append(in.got[m.Topic()], string(m.Payload()))
}

// has waits up to d for payload on topic.
func (in *inbox) has(topic, payload string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		in.mu.Lock()
		for _, p := range in.got[topic] {
			if p == payload {
				in.mu.Unlock()
				return true
			}
		}
		in.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (in *inbox) count() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, ps := range in.got {
		n += len(ps)
	}
	return n
}

type login struct{ user, password, clientID string }

func connect(t *testing.T, url string, l login, in *inbox, lost chan<- error) (mqtt.Client, error) {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(l.clientID).
		SetUsername(l.user).SetPassword(l.password).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	if in != nil {
		opts.SetDefaultPublishHandler(in.handle)
	}
	if lost != nil {
		opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("no CONNACK")
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c, nil
}

func mustConnect(t *testing.T, url string, l login, in *inbox) mqtt.Client {
	t.Helper()
	c, err := connect(t, url, l, in, nil)
	if err != nil {
		t.Fatalf("connect as %s (client id %s): %v", l.user, l.clientID, err)
	}
	return c
}

// subscribe returns the SUBACK code of each filter, in order.
func subscribe(t *testing.T, c mqtt.Client, filters ...string) []byte {
	t.Helper()
	m := make(map[string]byte, len(filters))
	for _, f := range filters {
		m[f] = 1
	}
	tok := c.SubscribeMultiple(m, nil)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %v: %v", filters, tok.Error())
	}
	res := tok.(*mqtt.SubscribeToken).Result()
	codes := make([]byte, len(filters))
	for i, f := range filters {
		codes[i] = res[f]
	}
	return codes
}

func publish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func credsLogin(c dynsec.Credentials) login { return login{c.Username, c.Password, c.ClientID} }

// Device A may use only its own topics, in the real root and in test roots;
// it cannot publish as B, read B's commands, or take B's client id.
func TestDeviceACL(t *testing.T) {
	mq := testenv.Broker(t)
	siteA, siteB := testenv.Name("sa"), testenv.Name("sb")
	devA, devB := testenv.Name("da"), testenv.Name("db")
	creds := testenv.Devices(t, dynsec.Device{Site: siteA, Device: devA}, dynsec.Device{Site: siteB, Device: devB})
	a, b := creds[0], creds[1]
	if a.Username != devA || a.ClientID != "gate-"+devA || len(a.Password) < 32 || a.Password == b.Password {
		t.Fatalf("credentials %+v", a)
	}
	svcIn := &inbox{got: map[string][]string{}}
	svc := mustConnect(t, mq.URL, login{mq.ServiceUser, mq.ServicePassword, testenv.Name("svc-")}, svcIn)

	for _, topics := range []proto.Topics{mq.Topics, {Root: proto.DefaultRoot}} {
		t.Run(topics.Root, func(t *testing.T) {
			if got := subscribe(t, svc, topics.Root+"/#"); got[0] != 1 {
				t.Fatalf("service SUBACK %v", got)
			}
			aIn := &inbox{got: map[string][]string{}}
			ca := mustConnect(t, mq.URL, credsLogin(a), aIn)
			cb := mustConnect(t, mq.URL, credsLogin(b), nil)

			// A's own command topics: granted. B's, wildcards, data topics: refused in the SUBACK.
			codes := subscribe(t, ca,
				topics.Decisions(siteA, devA), topics.Config(siteA, devA),
				topics.Decisions(siteB, devB), topics.Config(siteB, devB),
				topics.Filter(proto.ChanDecisions), topics.Root+"/decisions/#", topics.Root+"/#",
				topics.Taps(siteA, devA), topics.Status(siteB, devB))
			want := []byte{1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}
			if string(codes) != string(want) {
				t.Errorf("SUBACK codes % x, want % x", codes, want)
			}

			// What the service publishes: A gets its own decisions and config only.
			for _, tp := range []string{topics.Decisions(siteA, devA), topics.Config(siteA, devA), topics.Decisions(siteB, devB), topics.Config(siteB, devB)} {
				publish(t, svc, tp, "cmd:"+tp)
			}
			for _, tp := range []string{topics.Decisions(siteA, devA), topics.Config(siteA, devA)} {
				if !aIn.has(tp, "cmd:"+tp, 2*time.Second) {
					t.Errorf("A did not receive its own %s", tp)
				}
			}

			// What A publishes: only its own taps and status reach the service.
			ok := []string{topics.Taps(siteA, devA), topics.Status(siteA, devA)}
			denied := []string{
				topics.Taps(siteB, devB), topics.Status(siteB, devB), // as B
				topics.Taps(siteB, devA), topics.Taps(siteA, devB), // A's id at B's site, B's id at A's site
				topics.Decisions(siteA, devA), topics.Config(siteA, devA), // its own commands
				topics.Root + "/other/" + siteA + "/" + devA,
			}
			for _, tp := range append(append([]string(nil), ok...), denied...) {
				publish(t, ca, tp, "from-a:"+tp)
			}
			publish(t, cb, topics.Taps(siteB, devB), "from-b") // B itself may
			for _, tp := range ok {
				if !svcIn.has(tp, "from-a:"+tp, 2*time.Second) {
					t.Errorf("A's publish on its own %s did not arrive", tp)
				}
			}
			if !svcIn.has(topics.Taps(siteB, devB), "from-b", 2*time.Second) {
				t.Error("B's own tap did not arrive")
			}
			time.Sleep(200 * time.Millisecond) // a denied publish would have arrived by now
			for _, tp := range denied {
				if svcIn.has(tp, "from-a:"+tp, 0) {
					t.Errorf("A published on %s", tp)
				}
			}
			// Two of A's own commands, and nothing of B's nor of its own publishes.
			if n := aIn.count(); n != 2 {
				t.Errorf("A received %d messages, want its 2 commands: %v", n, aIn.got)
			}
		})
	}

	// A's login with B's client id, B's login with A's password: refused at CONNECT.
	for _, l := range []login{
		{a.Username, a.Password, b.ClientID},
		{a.Username, a.Password, testenv.Name("other-")},
		{b.Username, a.Password, b.ClientID},
		{mq.GateUser, mq.GatePassword + "x", b.ClientID},
	} {
		if _, err := connect(t, mq.URL, l, nil, nil); err == nil || !strings.Contains(err.Error(), "not Authorized") {
			t.Errorf("login %s with client id %s: %v, want not authorised", l.user, l.clientID, err)
		}
	}
}

// The shared gate login works in test roots only, never in the real root.
func TestSharedGateLoginTestRootsOnly(t *testing.T) {
	mq := testenv.Broker(t)
	svcIn := &inbox{got: map[string][]string{}}
	svc := mustConnect(t, mq.URL, login{mq.ServiceUser, mq.ServicePassword, testenv.Name("svc-")}, svcIn)
	gate := mustConnect(t, mq.URL, login{mq.GateUser, mq.GatePassword, testenv.Name("g-")}, nil)
	real := proto.Topics{Root: proto.DefaultRoot}
	dev := testenv.Name("d")
	subscribe(t, svc, mq.Topics.Taps("s", dev), real.Taps("s", dev))
	publish(t, gate, mq.Topics.Taps("s", dev), "test-root")
	publish(t, gate, real.Taps("s", dev), "real-root")
	if !svcIn.has(mq.Topics.Taps("s", dev), "test-root", 2*time.Second) {
		t.Error("shared login: tap in the test root did not arrive")
	}
	if svcIn.has(real.Taps("s", dev), "real-root", 300*time.Millisecond) {
		t.Error("shared login published in the real root")
	}
	if codes := subscribe(t, gate, real.Decisions("s", dev), mq.Topics.Decisions("s", dev)); string(codes) != "\x80\x01" {
		t.Errorf("shared login SUBACK codes % x, want 80 01", codes)
	}
}

// A revoked device is disconnected at once and refused afterwards.
func TestRevoke(t *testing.T) {
	mq := testenv.Broker(t)
	site, dev := testenv.Name("s"), testenv.Name("d")
	c := testenv.Device(t, site, dev)
	lost := make(chan error, 1)
	if _, err := connect(t, mq.URL, credsLogin(c), nil, lost); err != nil {
		t.Fatalf("connect before revocation: %v", err)
	}
	admin := testenv.Admin(t)
	ctx := context.Background()
	list, err := admin.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !listed(list, site, dev) {
		t.Fatalf("%s not in the list before revocation", dev)
	}

	start := time.Now()
	if err := admin.Revoke(ctx, dev); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		t.Logf("revoked device disconnected after %v: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(5 * time.Second):
		t.Fatal("revoked device still connected after 5s")
	}
	if _, err := connect(t, mq.URL, credsLogin(c), nil, nil); err == nil || !strings.Contains(err.Error(), "not Authorized") {
		t.Fatalf("reconnect after revocation: %v, want not authorised", err)
	}
	if list, err = admin.List(ctx); err != nil || listed(list, site, dev) {
		t.Fatalf("listed after revocation (%v)", err)
	}
	if err := admin.Revoke(ctx, dev); !errors.Is(err, dynsec.ErrNotFound) {
		t.Fatalf("second revocation: %v, want ErrNotFound", err)
	}
}

func listed(list []dynsec.Entry, site, dev string) bool {
	for _, e := range list {
		if e.Device.Device == dev && e.Site == site && e.ClientID == "gate-"+dev && !e.Disabled {
			return true
		}
	}
	return false
}

// Provisioning twice needs replace, which gives a new password (the old one
// stops working) and may move the device to another site.
func TestProvisionReplace(t *testing.T) {
	mq := testenv.Broker(t)
	site, dev := testenv.Name("s"), testenv.Name("d")
	old := testenv.Device(t, site, dev)
	admin := testenv.Admin(t)
	ctx := context.Background()
	if _, err := admin.Provision(ctx, []dynsec.Device{{Site: site, Device: dev}}, false); !errors.Is(err, dynsec.ErrExists) {
		t.Fatalf("provision again: %v, want ErrExists", err)
	}
	moved := testenv.Name("s")
	got, err := admin.Provision(ctx, []dynsec.Device{{Site: moved, Device: dev}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Password == old.Password {
		t.Fatal("replace kept the password")
	}
	if _, err := connect(t, mq.URL, credsLogin(old), nil, nil); err == nil {
		t.Error("the old password still logs in")
	}
	in := &inbox{got: map[string][]string{}}
	cl := mustConnect(t, mq.URL, credsLogin(got[0]), nil)
	svc := mustConnect(t, mq.URL, login{mq.ServiceUser, mq.ServicePassword, testenv.Name("svc-")}, in)
	subscribe(t, svc, mq.Topics.Filter(proto.ChanTaps))
	publish(t, cl, mq.Topics.Taps(site, dev), "old-site")
	publish(t, cl, mq.Topics.Taps(moved, dev), "new-site")
	if !in.has(mq.Topics.Taps(moved, dev), "new-site", 2*time.Second) {
		t.Error("tap at the new site did not arrive")
	}
	if in.has(mq.Topics.Taps(site, dev), "old-site", 200*time.Millisecond) {
		t.Error("tap at the old site arrived")
	}
}

func TestRefusals(t *testing.T) {
	admin := testenv.Admin(t)
	ctx := context.Background()
	for _, d := range []dynsec.Device{
		{Site: "s", Device: "vnpass-svc"}, // the platform's own
		{Site: "s", Device: "Upper"},
		{Site: "s/x", Device: "d"},
		{Site: "s", Device: "d+"},
	} {
		if _, err := admin.Provision(ctx, []dynsec.Device{d}, true); err == nil {
			t.Errorf("provisioned %+v", d)
		}
	}
	dup := testenv.Name("d")
	if _, err := admin.Provision(ctx, []dynsec.Device{{Site: "s", Device: dup}, {Site: "t", Device: dup}}, false); err == nil {
		t.Error("provisioned one device twice in one call")
	}
	for _, user := range []string{"vnpass-svc", "vnpass-gate", "vnpass-admin"} {
		if err := admin.Revoke(ctx, user); err == nil {
			t.Errorf("revoked %s", user)
		}
	}
	if err := admin.Revoke(ctx, testenv.Name("nobody")); !errors.Is(err, dynsec.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
}
