package fleetmqtt_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/fleet"
	"github.com/vnpass/vnpass/services/fleet/fleetmqtt"
)

// device is a gate as the wire contract describes it, on its own login:
// retained status with an offline last will, its config topic read.
type device struct {
	t            *testing.T
	mq           testenv.MQTT
	site, id     string
	client       mqtt.Client
	conn         net.Conn // to cut the link without a DISCONNECT
	configs      chan proto.Config
	applied      int64
	mu           sync.Mutex
	user, secret string
}

func newDevice(t *testing.T, mq testenv.MQTT, site, id string) *device {
	t.Helper()
	creds := testenv.Device(t, site, id)
	d := &device{t: t, mq: mq, site: site, id: id, configs: make(chan proto.Config, 8), user: creds.Username, secret: creds.Password}
	will, err := d.status(proto.StateOffline).Encode()
	if err != nil {
		t.Fatal(err)
	}
	opts := mqtt.NewClientOptions().AddBroker(mq.URL).SetClientID(creds.ClientID).
		SetUsername(creds.Username).SetPassword(creds.Password).SetCleanSession(true).SetAutoReconnect(false).
		SetBinaryWill(mq.Topics.Status(site, id), will, 1, true).
		SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", u.Host)
			d.mu.Lock()
			d.conn = c
			d.mu.Unlock()
			return c, err
		})
	d.client = mqtt.NewClient(opts)
	if tok := d.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device connect: %v", tok.Error())
	}
	tok := d.client.Subscribe(mq.Topics.Config(site, id), 1, func(_ mqtt.Client, m mqtt.Message) {
		if c, err := proto.DecodeConfig(m.Payload()); err == nil {
			d.configs <- c
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device subscribe: %v", tok.Error())
	}
	t.Cleanup(func() {
		d.client.Disconnect(50)
		clearRetained(t, mq, site, id)
	})
	return d
}

func (d *device) status(s proto.State) proto.Status {
	off := int64(-35)
	return proto.Status{V: 1, Device: d.id, Site: d.site, Kind: proto.KindMetroExit, State: s, Software: "sim/1.0",
		QueueDepth: 2, At: proto.At(time.Now()), ConfigVersion: d.applied, ClockOffsetMS: &off, HeartbeatS: 30}
}

func (d *device) publish(topic string, payload []byte) {
	d.t.Helper()
	tok := d.client.Publish(topic, 1, true, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		d.t.Fatalf("device publish: %v", tok.Error())
	}
}

func (d *device) heartbeat() {
	d.t.Helper()
	b, err := d.status(proto.StateOnline).Encode()
	if err != nil {
		d.t.Fatal(err)
	}
	d.publish(d.mq.Topics.Status(d.site, d.id), b)
}

// cut drops the TCP connection: the broker publishes the last will.
func (d *device) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conn.Close()
}

// clearRetained leaves nothing of the test's device on the broker.
func clearRetained(t *testing.T, mq testenv.MQTT, site, id string) {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL).SetClientID(testenv.Name("clean-")).
		SetUsername(mq.ServiceUser).SetPassword(mq.ServicePassword))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Errorf("clear retained: %v", tok.Error())
		return
	}
	defer c.Disconnect(50)
	for _, topic := range []string{mq.Topics.Status(site, id), mq.Topics.Config(site, id)} {
		c.Publish(topic, 1, true, []byte{}).WaitTimeout(10 * time.Second)
	}
}

func startWatcher(t *testing.T, mq testenv.MQTT) (*fleetmqtt.Watcher, *fleet.Fleet) {
	t.Helper()
	f := fleet.New()
	w, err := fleetmqtt.New(fleetmqtt.Config{
		BrokerURL: mq.URL, Username: mq.ServiceUser, Password: mq.ServicePassword, ClientID: testenv.Name("fleet-"),
		Topics: mq.Topics, Fleet: f, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w, f
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatcher(t *testing.T) {
	mq := testenv.Broker(t)
	w, f := startWatcher(t, mq)
	site, id := testenv.Name("s"), testenv.Name("d")
	dev := newDevice(t, mq, site, id)

	dev.heartbeat()
	eventually(t, "online status in the view", func() bool {
		d, ok := f.Device(site, id)
		return ok && d.Status.State == proto.StateOnline
	})
	d, _ := f.Device(site, id)
	if d.Kind != proto.KindMetroExit || d.Status.Software != "sim/1.0" || d.Status.QueueDepth != 2 ||
		!d.ClockKnown || d.ClockOffset != -35*time.Millisecond || d.ClockSource != "device" ||
		time.Since(d.LastHeartbeat) > 5*time.Second {
		t.Fatalf("view %+v", d)
	}

	// A config pushed reaches the device on its own login; its status acknowledges it.
	want, err := f.NextConfig(site, id, proto.Config{DecisionTimeoutMS: 1500, HeartbeatS: 30}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Push(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	var got proto.Config
	select {
	case got = <-dev.configs:
	case <-time.After(5 * time.Second):
		t.Fatal("the device did not receive its config")
	}
	if got.Version != want.Version || got.DecisionTimeoutMS != 1500 {
		t.Fatalf("device got %+v", got)
	}
	if d, _ := f.Device(site, id); d.Acked() || d.Config == nil {
		t.Fatal("acknowledged before the device said so")
	}
	dev.applied = got.Version
	dev.heartbeat()
	eventually(t, "acknowledgement", func() bool { d, _ := f.Device(site, id); return d.Acked() })

	// What does not decode, or names another device, is dropped.
	dev.publish(mq.Topics.Status(site, id), []byte(`{"v":1,"state":"online"}`))
	other := dev.status(proto.StateOffline)
	other.Device = testenv.Name("x")
	b, _ := other.Encode()
	dev.publish(mq.Topics.Status(site, id), b)
	eventually(t, "malformed statuses counted", func() bool { return w.Stats().Malformed.Load() == 2 })
	if d, _ := f.Device(site, id); d.Status.State != proto.StateOnline || len(f.Devices()) != 1 {
		t.Fatal("a dropped status changed the view")
	}
	dev.heartbeat() // the retained status is a good one again

	// The link cut: the broker publishes the last will. It was made at
	// connect, before the config was applied: the acknowledgement stays.
	dev.cut()
	eventually(t, "offline by the last will", func() bool { d, _ := f.Device(site, id); return d.Status.State == proto.StateOffline })
	if d, _ := f.Device(site, id); !d.Acked() || d.AppliedConfig != want.Version {
		t.Fatalf("the last will undid the acknowledgement: %+v", d)
	}

	// A second replica, started now, rebuilds the view from the retained
	// status and config alone.
	w2, f2 := startWatcher(t, mq)
	eventually(t, "view rebuilt from retained messages", func() bool {
		d, ok := f2.Device(site, id)
		return ok && d.Config != nil && d.Status.State == proto.StateOffline
	})
	d2, _ := f2.Device(site, id)
	// All it has of the device is the last will, which reports no config
	// applied: pending until the device is heard from again.
	if d2.Config.Config.Version != want.Version || d2.Acked() || d2.Kind != proto.KindMetroExit {
		t.Fatalf("rebuilt view %+v", d2)
	}
	// Its next version is newer than the one pushed by the first.
	next, err := f2.NextConfig(site, id, proto.Config{DrainPerS: 20}, time.Now())
	if err != nil || next.Version <= want.Version || next.DecisionTimeoutMS != 1500 {
		t.Fatalf("next config from the rebuilt view: %+v %v", next, err)
	}

	// Forgetting the device clears what it left: both views drop it.
	if err := w2.Forget(context.Background(), site, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "device forgotten by the other replica", func() bool { _, ok := f.Device(site, id); return !ok })
	if _, ok := f2.Device(site, id); ok {
		t.Fatal("device still in the view that forgot it")
	}
}
