package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/fleet/dynsec"
	"github.com/vnpass/vnpass/services/fleet/fleethttp"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
)

const secret = "test-api-secret-0123456789abcdef-xyz"

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"VNPASS_MQTT_URL": "tcp://127.0.0.1:1", "VNPASS_API_SECRET": secret}
	get := func(k string) string { return env[k] }
	c, err := ConfigFromEnv(get)
	if err != nil {
		t.Fatal(err)
	}
	if c.APIAddr != "127.0.0.1:58070" || c.OverdueCheck != 10*time.Second || c.Instance == "" || c.Topics.Filter(proto.ChanStatus) != "vnpass/v1/status/+/+" {
		t.Fatalf("defaults %+v", c)
	}
	env["VNPASS_MQTT_SERVICE_PASSWORD"] = "hunter2"
	if s := c.String(); strings.Contains(s, secret) {
		t.Fatalf("secret in %q", s)
	}
	for k, v := range map[string]string{"VNPASS_API_SECRET": "short", "VNPASS_MQTT_URL": "", "VNPASS_FLEET_OVERDUE_CHECK": "2h"} {
		old := env[k]
		env[k] = v
		if _, err := ConfigFromEnv(get); err == nil {
			t.Errorf("%s=%q accepted", k, v)
		}
		env[k] = old
	}
}

// gate is a device as the wire contract describes it, on its own login.
type gate struct {
	t        *testing.T
	mq       testenv.MQTT
	site, id string
	client   mqtt.Client
	lost     chan error
	configs  chan proto.Config
	applied  int64
	at       func() time.Time
	kind     proto.Kind // metro_entry unless set before the first status
	tickets  int64      // the ticket list version it reports applied
}

func newGate(t *testing.T, mq testenv.MQTT, site, id string, creds dynsec.Credentials, at func() time.Time) *gate {
	t.Helper()
	g := &gate{t: t, mq: mq, site: site, id: id, lost: make(chan error, 1), configs: make(chan proto.Config, 8), at: at}
	will, err := g.status(proto.StateOffline).Encode()
	if err != nil {
		t.Fatal(err)
	}
	g.client = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL).SetClientID(creds.ClientID).
		SetUsername(creds.Username).SetPassword(creds.Password).SetCleanSession(true).SetAutoReconnect(false).
		SetBinaryWill(mq.Topics.Status(site, id), will, 1, true).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { g.lost <- err }))
	if tok := g.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("gate connect: %v", tok.Error())
	}
	tok := g.client.Subscribe(mq.Topics.Config(site, id), 1, func(_ mqtt.Client, m mqtt.Message) {
		if c, err := proto.DecodeConfig(m.Payload()); err == nil {
			g.configs <- c
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("gate subscribe: %v", tok.Error())
	}
	t.Cleanup(func() {
		g.client.Disconnect(50)
		forgetDevice(t, mq, site, id)
	})
	return g
}

func (g *gate) status(s proto.State) proto.Status {
	kind := g.kind
	if kind == "" {
		kind = proto.KindMetroEntry
	}
	return proto.Status{V: 1, Device: g.id, Site: g.site, Kind: kind, State: s, Software: "sim/2.0",
		QueueDepth: 5, At: proto.At(g.at()), ConfigVersion: g.applied, TicketsVersion: g.tickets, HeartbeatS: 30, OfflineOpened: 3}
}

func (g *gate) heartbeat() {
	g.t.Helper()
	b, err := g.status(proto.StateOnline).Encode()
	if err != nil {
		g.t.Fatal(err)
	}
	if tok := g.client.Publish(g.mq.Topics.Status(g.site, g.id), 1, true, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		g.t.Fatalf("heartbeat: %v", tok.Error())
	}
}

// forgetDevice leaves nothing of a test's device on the broker.
func forgetDevice(t *testing.T, mq testenv.MQTT, site, id string) {
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

// service is vnpass-fleet started in-process as the binary does, on the
// real broker, with a clock the test can move.
type service struct {
	t    *testing.T
	main *Main
	mq   testenv.MQTT
	url  string
	mu   sync.Mutex
	skew time.Duration
}

func (s *service) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Add(s.skew)
}

func (s *service) advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skew += d
}

func startService(t *testing.T) *service {
	t.Helper()
	s := &service{t: t, mq: testenv.Broker(t)}
	s.main = &Main{Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Config: Config{
		MQTTURL: s.mq.URL, MQTTUser: s.mq.ServiceUser, MQTTPassword: s.mq.ServicePassword, Topics: s.mq.Topics,
		Instance: testenv.Name("t"), APIAddr: "127.0.0.1:0", APISecret: secret, OverdueCheck: 50 * time.Millisecond, Now: s.now,
	}}
	if err := s.main.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.main.Close() })
	s.url = "http://" + s.main.APIAddr()
	return s
}

func (s *service) call(method, path string, role authjwt.Role, body string, out any) int {
	s.t.Helper()
	tok, err := s.main.Auth.Issue("test", role, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func (s *service) device(site, id string) (fleethttp.DeviceJSON, int) {
	var d fleethttp.DeviceJSON
	code := s.call("GET", "/v1/devices/"+site+"/"+id, authjwt.RoleOperator, "", &d)
	return d, code
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The fleet view through the service's API: a gate on its own login comes
// online, takes a config and acknowledges it, falls silent and is flagged
// overdue, and its last will takes it offline.
func TestFleetService(t *testing.T) {
	s := startService(t)
	site, id := testenv.Name("s"), testenv.Name("g")
	g := newGate(t, s.mq, site, id, testenv.Device(t, site, id), time.Now)
	g.heartbeat()
	var d fleethttp.DeviceJSON
	eventually(t, "the gate in the view", func() bool { d, _ = s.device(site, id); return d.State == proto.StateOnline })
	if d.Software != "sim/2.0" || d.QueueDepth != 5 || d.HeartbeatS != 30 || d.Overdue || d.OfflineOpened != 3 ||
		d.ClockOffsetMS == nil || d.ClockSource != "fleet" || d.Config.Pushed != nil {
		t.Fatalf("gate %+v", d)
	}
	if code := s.call("GET", "/v1/devices", authjwt.RoleRider, "", nil); code != 403 {
		t.Fatalf("a rider read the fleet: %d", code)
	}

	// Push: the gate receives it on its own config topic and acknowledges it.
	var p fleethttp.PushJSON
	if code := s.call("POST", "/v1/devices/"+site+"/"+id+"/config", authjwt.RoleAdmin, `{"decision_timeout_ms":1800,"drain_per_s":40}`, &p); code != 202 {
		t.Fatalf("push: %d", code)
	}
	var c proto.Config
	select {
	case c = <-g.configs:
	case <-time.After(5 * time.Second):
		t.Fatal("the gate did not receive the config")
	}
	if c.Version != p.Version || c.DecisionTimeoutMS != 1800 || c.DrainPerS != 40 || c.Kind != proto.KindMetroEntry {
		t.Fatalf("gate received %+v, pushed %+v", c, p)
	}
	var l fleethttp.ListJSON
	s.call("GET", "/v1/devices?pending=true&site="+site, authjwt.RoleOperator, "", &l)
	if len(l.Devices) != 1 || l.Summary.ConfigPending != 1 {
		t.Fatalf("pending before the acknowledgement: %+v", l)
	}
	g.applied = c.Version
	g.heartbeat()
	eventually(t, "acknowledged", func() bool { d, _ = s.device(site, id); return d.Config.Acked })
	if d.Config.AppliedVersion != p.Version || d.Config.AckedAt == nil {
		t.Fatalf("acknowledgement %+v", d.Config)
	}

	// Silent for more than three heartbeats (30 s each): overdue.
	s.advance(2 * time.Minute)
	eventually(t, "overdue", func() bool {
		s.call("GET", "/v1/devices?overdue=true&site="+site, authjwt.RoleOperator, "", &l)
		return len(l.Devices) == 1 && l.Summary.Overdue == 1
	})
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"vnpass_fleet_overdue_devices 1", `vnpass_fleet_devices{state="online"} 1`, "vnpass_fleet_config_pushes_total 1"} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}

	// Revoked: the broker disconnects the gate at once, and what it left on
	// the broker is cleared, so the view drops it.
	var out, errOut bytes.Buffer
	if err := deviceCmd(context.Background(), []string{"revoke", id}, adminEnv(t, s.mq), &out, &errOut); err != nil {
		t.Fatalf("revoke: %v: %s", err, errOut.String())
	}
	select {
	case <-g.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked gate is still connected")
	}
	eventually(t, "the revoked gate gone from the view", func() bool { _, code := s.device(site, id); return code == 404 })
}

// adminEnv is the environment of the device subcommand, in the test's root.
func adminEnv(t *testing.T, mq testenv.MQTT) func(string) string {
	env := map[string]string{
		"VNPASS_MQTT_URL": mq.URL, "VNPASS_MQTT_ROOT": mq.Topics.Root,
		"VNPASS_MQTT_ADMIN_USER": testenv.Get(t, "VNPASS_MQTT_ADMIN_USER"), "VNPASS_MQTT_ADMIN_PASSWORD": testenv.Get(t, "VNPASS_MQTT_ADMIN_PASSWORD"),
		"VNPASS_MQTT_SERVICE_USER": mq.ServiceUser, "VNPASS_MQTT_SERVICE_PASSWORD": mq.ServicePassword,
	}
	return func(k string) string { return env[k] }
}

func TestDeviceCommand(t *testing.T) {
	mq := testenv.Broker(t)
	env := adminEnv(t, mq)
	ctx := context.Background()
	site, a, b := testenv.Name("s"), testenv.Name("d"), testenv.Name("d")
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := deviceCmd(ctx, args, env, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	t.Cleanup(func() { run("revoke", a, b) })

	out, err := run("add", site, a, b)
	if err != nil {
		t.Fatalf("add: %v: %s", err, out)
	}
	// Sourceable lines per device, which turnstile-agent reads.
	pw := map[string]string{}
	var user string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "VNPASS_MQTT_GATE_USER="); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(line, "VNPASS_MQTT_GATE_PASSWORD="); ok {
			pw[user] = v
		}
	}
	if len(pw) != 2 || len(pw[a]) != 32 || len(pw[b]) != 32 {
		t.Fatalf("add printed:\n%s", out)
	}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL).SetClientID(dynsec.ClientID(a)).SetUsername(a).SetPassword(pw[a]))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("the printed login does not log in: %v", tok.Error())
	}
	c.Disconnect(50)

	if out, err := run("add", site, a); err == nil || !strings.Contains(err.Error(), "already provisioned") {
		t.Fatalf("add again: %v %s", err, out)
	}
	if out, err := run("add", "-replace", "-json", site, a); err != nil || !strings.Contains(out, `"client_id":"gate-`+a+`"`) {
		t.Fatalf("add -replace -json: %v %s", err, out)
	}
	out, err = run("list", "-json")
	var list []dynsec.Entry
	if err != nil || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("list -json: %v %s", err, out)
	}
	found := 0
	for _, e := range list {
		if (e.Device.Device == a || e.Device.Device == b) && e.Site == site {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("list lacks the devices: %s", out)
	}
	if out, err := run("list"); err != nil || !strings.Contains(out, a) {
		t.Fatalf("list: %v %s", err, out)
	}
	if out, err := run("revoke", a, b); err != nil || strings.Count(out, "revoked") != 2 {
		t.Fatalf("revoke: %v %s", err, out)
	}
	if out, err := run("revoke", a); err == nil {
		t.Fatalf("revoke twice: %s", out)
	}
	for _, args := range [][]string{nil, {"add", site}, {"remove", a}, {"list", "x"}, {"add", "-bogus", site, a}} {
		if _, err := run(args...); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want usage", args, err)
		}
	}
}

type noMatch struct{}

func (noMatch) Match(context.Context, string, string) (string, time.Time, error) {
	return "", time.Time{}, agent.ErrNoMatch
}

// The real gate agent on its own login: its session setup is admitted (no
// subscription refused), it shows in the view, applies a pushed config, and
// shows offline once closed.
func TestRealAgent(t *testing.T) {
	s := startService(t)
	site, id := testenv.Name("s"), testenv.Name("g")
	creds := testenv.Device(t, site, id)
	a, err := agent.New(agent.Config{
		Device: id, Site: site, Kind: proto.KindMetroExit, Topics: s.mq.Topics,
		BrokerURL: s.mq.URL, Username: creds.Username, Password: creds.Password,
		Software: "vnpass-agent/test", Matcher: noMatch{}, Gate: gatesim.New(id, io.Discard),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.Connect(ctx); err != nil {
		t.Fatalf("agent connect on its own login: %v", err)
	}
	t.Cleanup(func() {
		a.Close()
		forgetDevice(t, s.mq, site, id)
	})
	var d fleethttp.DeviceJSON
	eventually(t, "the agent in the view", func() bool { d, _ = s.device(site, id); return d.State == proto.StateOnline })
	if d.Kind != proto.KindMetroExit || d.Software != "vnpass-agent/test" {
		t.Fatalf("agent %+v", d)
	}
	if code := s.call("POST", "/v1/devices/"+site+"/"+id+"/config", authjwt.RoleAdmin, `{"decision_timeout_ms":1700}`, nil); code != 202 {
		t.Fatalf("push: %d", code)
	}
	eventually(t, "the agent applies the pushed config", func() bool { return a.DecisionTimeout() == 1700*time.Millisecond })
	a.Close()
	eventually(t, "offline after Close", func() bool { d, _ = s.device(site, id); return d.State == proto.StateOffline })
}
