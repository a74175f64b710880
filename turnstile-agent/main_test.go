package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/vneidsim"
)

const (
	site      = "hn2a-cat-linh"
	clientKey = "test-client-key-0123456789"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{
		"VNPASS_MQTT_URL":           "tcp://127.0.0.1:1883",
		"VNPASS_MQTT_GATE_USER":     "gate",
		"VNPASS_MQTT_GATE_PASSWORD": "s3cret-password",
		"VNPASS_VNEID_URL":          "http://127.0.0.1:58090",
		"VNPASS_VNEID_CLIENT_KEY":   "s3cret-client-key",
		"HOME":                      "/home/gate",
	}
	getenv := func(k string) string { return env[k] }
	base := []string{"-device", "hn2a-cat-linh-g01", "-site", site}

	c, err := parseConfig(base, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.broker != "tcp://127.0.0.1:1883" || c.user != "gate" || c.password != "s3cret-password" ||
		c.vneidURL != "http://127.0.0.1:58090" || c.vneidKey != "s3cret-client-key" ||
		c.kind != proto.KindMetroEntry || c.root != proto.DefaultRoot || c.timeout != 2*time.Second ||
		c.state != "/home/gate/.local/state/vnpass-agent/hn2a-cat-linh-g01" || c.vneidIssuer != "http://127.0.0.1:58090" ||
		c.jwksURL != "http://127.0.0.1:58090/.well-known/jwks.json" {
		t.Errorf("from env: %+v", c)
	}
	logged := fmt.Sprint(c.attrs()...)
	if strings.Contains(logged, "s3cret") {
		t.Errorf("start-up log shows a secret: %s", logged)
	}

	c, err = parseConfig(append(base, "-broker", "tcp://other:1883", "-kind", "parking_exit", "-timeout", "1500ms"), getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.broker != "tcp://other:1883" || c.kind != proto.KindParkingExit || c.timeout != 1500*time.Millisecond {
		t.Errorf("flags over env: %+v", c)
	}
	c, err = parseConfig(append(base, "-online-only", "-state", "/tmp/x"), getenv, io.Discard)
	if err != nil || c.state != "" {
		t.Errorf("-online-only: state %q, %v", c.state, err)
	}

	for _, args := range [][]string{
		{"-site", site},
		{"-device", "G01", "-site", site},
		{"-device", "g01"},
		append(base, "-kind", "bus"),
		append(base, "-timeout", "0s"),
		append(base, "captures.txt"),
		append(base, "-drain-rate", "0"),
	} {
		if _, err := parseConfig(args, getenv, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if _, err := parseConfig(base, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("accepted without broker and VNeID URLs")
	}
}

// stack is a VNeID simulator on a free port, a topic root of the test's own
// on the real broker, and the test playing the fare service there.
type stack struct {
	mq      testenv.MQTT
	device  string
	vneid   string
	faceRef string // an enrolled citizen
	svc     mqtt.Client
	state   string // the agent's state directory
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{mq: testenv.Broker(t), device: testenv.Name("g"), state: t.TempDir()}

	sim, err := vneidsim.New(vneidsim.Config{ClientKey: clientKey})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sim.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sim.Shutdown(ctx)
		sim.Close()
	})
	s.vneid = "http://" + ln.Addr().String()
	enrolled, _, err := sim.Enroll(context.Background(), vneidsim.Enrollment{CCCD: "001090012345", FullName: "Nguyễn Văn An", DateOfBirth: "1990-05-17"})
	if err != nil {
		t.Fatal(err)
	}
	s.faceRef = enrolled.FaceRef

	opts := mqtt.NewClientOptions().AddBroker(s.mq.URL).SetClientID(testenv.Name("svc-")).
		SetUsername(s.mq.ServiceUser).SetPassword(s.mq.ServicePassword).SetOrderMatters(false)
	s.svc = mqtt.NewClient(opts)
	if tok := s.svc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("service connect: %v", tok.Error())
	}
	t.Cleanup(func() {
		// Leave nothing behind: the retained status and the gate's session.
		s.svc.Publish(s.mq.Topics.Status(site, s.device), 1, true, []byte{}).WaitTimeout(5 * time.Second)
		s.svc.Disconnect(100)
		gate := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(s.mq.URL).SetClientID("gate-" + s.device).
			SetCleanSession(true).SetUsername(s.mq.GateUser).SetPassword(s.mq.GatePassword))
		if tok := gate.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			gate.Disconnect(100)
		}
	})

	// Every tap is for a rider with enough balance.
	tok := s.svc.Subscribe(s.mq.Topics.Taps(site, s.device), 1, func(c mqtt.Client, m mqtt.Message) {
		tap, err := proto.DecodeTap(m.Payload())
		if err != nil {
			t.Errorf("tap: %v", err)
			return
		}
		fare := int64(8000)
		b, _ := proto.Decision{EventID: tap.EventID, Open: true, Reason: proto.ReasonOK, Display: proto.ReasonOK.Display(),
			FareVND: &fare, DecidedAt: proto.At(time.Now())}.Encode()
		if tok := c.Publish(s.mq.Topics.Decisions(site, s.device), 1, false, b); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Errorf("decision: %v", tok.Error())
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return s
}

func (s *stack) args() []string {
	return []string{"-device", s.device, "-site", site, "-kind", "metro_entry", "-root", s.mq.Topics.Root, "-timeout", "3s", "-state", s.state}
}

func (s *stack) getenv(k string) string {
	return map[string]string{
		"VNPASS_MQTT_URL":           s.mq.URL,
		"VNPASS_MQTT_GATE_USER":     s.mq.GateUser,
		"VNPASS_MQTT_GATE_PASSWORD": s.mq.GatePassword,
		"VNPASS_VNEID_URL":          s.vneid,
		"VNPASS_VNEID_CLIENT_KEY":   clientKey,
		"VNPASS_VNEID_ISSUER":       vneidsim.DefaultIssuer,
	}[k]
}

// retainedStatus is the device's retained status as a new subscriber sees it.
func (s *stack) retainedStatus(t *testing.T) proto.State {
	t.Helper()
	got := make(chan []byte, 1)
	topic := s.mq.Topics.Status(site, s.device)
	tok := s.svc.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- m.Payload():
		default:
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	defer s.svc.Unsubscribe(topic)
	select {
	case b := <-got:
		st, err := proto.DecodeStatus(b)
		if err != nil {
			t.Fatal(err)
		}
		return st.State
	case <-time.After(5 * time.Second):
		t.Fatal("no retained status")
		return ""
	}
}

func TestRunEndToEnd(t *testing.T) {
	s := newStack(t)
	stdin := strings.NewReader("# morning rush at Cát Linh\n" + s.faceRef + "\nnot-enrolled-face\n\n")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), s.args(), s.getenv, stdin, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	want := "[" + s.device + "] MỞ / OPEN      Mời qua · Please pass\n" +
		"[" + s.device + "] ĐÓNG / CLOSED  Không nhận diện được khuôn mặt, vui lòng thử lại · Face not recognised, please try again\n"
	if stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s\nlogs:\n%s", stdout.String(), want, stderr.String())
	}
	logs := stderr.String()
	for _, secret := range []string{s.faceRef, clientKey, s.mq.GatePassword, "not-enrolled-face"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
	if st := s.retainedStatus(t); st != proto.StateOffline {
		t.Errorf("status after run = %s, want offline", st)
	}
	// The state directory keeps the VNeID keys for offline decisions.
	for _, name := range []string{"jwks.json", "queue", "entries.log"} {
		if _, err := os.Stat(filepath.Join(s.state, name)); err != nil {
			t.Errorf("state directory: %v", err)
		}
	}
	t.Logf("stdout:\n%s\nlogs:\n%s", stdout.String(), logs)
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

func TestRunStopsOnSignal(t *testing.T) {
	s := newStack(t)
	stdin, camera := io.Pipe() // a camera that never ends its input
	defer camera.Close()
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, s.args(), s.getenv, stdin, &stdout, &stderr) }()

	fmt.Fprintln(camera, s.faceRef)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "OPEN") {
		if time.Now().After(deadline) {
			t.Fatalf("no gate event; logs:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.retainedStatus(t); st != proto.StateOnline {
		t.Errorf("status while running = %s, want online", st)
	}

	cancel() // as SIGTERM would
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
	if st := s.retainedStatus(t); st != proto.StateOffline {
		t.Errorf("status after stopping = %s, want offline", st)
	}
}
