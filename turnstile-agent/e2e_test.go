package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/vnpass/vnpass/internal/netcut"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/settlepg"
	"github.com/vnpass/vnpass/services/tapmqtt"
	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/services/vneidsim"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
	"github.com/vnpass/vnpass/turnstile-agent/vneidmatch"
)

// End-to-end: gate agents, the real broker, and the fare service's own
// pieces (admission, settlepg on the real PostgreSQL, tapmqtt, the VNeID
// verifier) running in this process, wired as vnpass-fare wires them.

// childEnv marks a process started by these tests to be the agent itself
// (TestMain runs it instead of the tests): a real process the test can kill
// with SIGKILL.
const childEnv = "VNPASS_E2E_AGENT_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			fmt.Fprintln(os.Stderr, "child args:", err)
			os.Exit(2)
		}
		ctx, stop := signalContext()
		defer stop()
		if err := run(ctx, argv, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "turnstile-agent:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	return ctx, cancel
}

// outage is how long the station's network stays down in
// TestBrokerUnreachableRidersKeepPassing, riders passing all along.
var outage = flag.Duration("outage", 2*time.Second, "length of the network outage in the outage test")

func quiet() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// cloud is the fare service and the VNeID provider.
type cloud struct {
	t      testing.TB
	mq     testenv.MQTT
	idp    *vneidsim.Server
	idpURL string
	store  *settlepg.Store
	fares  *fare.Set
	svc    mqtt.Client  // to push configs
	idpNow atomic.Int64 // unix nanos of the provider's clock; 0: now
}

func startCloud(t testing.TB) *cloud {
	t.Helper()
	ctx := context.Background()
	c := &cloud{t: t, mq: testenv.Broker(t)}
	idp, err := vneidsim.New(vneidsim.Config{ClientKey: clientKey, Now: func() time.Time {
		if n := c.idpNow.Load(); n != 0 {
			return time.Unix(0, n)
		}
		return time.Now()
	}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go idp.Serve(ln)
	t.Cleanup(func() { idp.Close() })
	c.idp, c.idpURL = idp, "http://"+ln.Addr().String()

	if c.store, err = settlepg.Open(ctx, testenv.PostgresURL(t), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.store.Close)
	v, err := vneid.NewVerifier(vneid.VerifierConfig{Issuer: vneidsim.DefaultIssuer, JWKSURL: c.idpURL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c.fares, err = fare.Shipped(); err != nil {
		t.Fatal(err)
	}
	proc, err := admission.New(admission.Config{Verifier: v, Fares: c.fares, Store: c.store, Topics: c.mq.Topics,
		MinTapInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	in, err := tapmqtt.New(tapmqtt.Config{BrokerURL: c.mq.URL, Username: c.mq.ServiceUser, Password: c.mq.ServicePassword,
		ClientID: testenv.Name("fare-"), Topics: c.mq.Topics, Handler: proc, Log: quiet(), Workers: 64,
		// The drills measure the agent (a drain of 1,000 taps/s from one
		// gate), not the cloud's per-device limit (tapmqtt/limit.go).
		Limit: tapmqtt.Limit{Rate: -1}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := in.Start(sctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(5 * time.Second) })

	c.svc = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(c.mq.URL).SetClientID(testenv.Name("cfg-")).
		SetUsername(c.mq.ServiceUser).SetPassword(c.mq.ServicePassword))
	if tok := c.svc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("service connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.svc.Disconnect(100) })
	return c
}

type rider struct{ subject, face string }

// riders enrols n citizens and opens their accounts with 100.000 ₫.
func (c *cloud) riders(n int, prefix string) []rider {
	c.t.Helper()
	ctx := context.Background()
	out := make([]rider, n)
	for i := range out {
		e, _, err := c.idp.Enroll(ctx, vneidsim.Enrollment{CCCD: fmt.Sprintf("%s%06d", prefix, i), FullName: "Phạm Thị Lan", DateOfBirth: "1991-04-02"})
		if err != nil {
			c.t.Fatal(err)
		}
		if _, err := c.store.OpenRiderAccount(ctx, e.Subject); err != nil {
			c.t.Fatal(err)
		}
		tx, err := ledger.Transfer("topup:e2e:"+e.Subject, "topup", "", ledger.ProviderSettlement("sim"), ledger.Rider(e.Subject), money.Dong(100_000))
		if err != nil {
			c.t.Fatal(err)
		}
		if err := c.store.Post(ctx, tx); err != nil {
			c.t.Fatal(err)
		}
		out[i] = rider{e.Subject, e.FaceRef}
	}
	return out
}

// push publishes a device's config, retained, and removes it and what the
// device leaves on the broker when the test ends.
func (c *cloud) push(site, device string, kind proto.Kind, deny ...string) {
	c.t.Helper()
	b, err := proto.Config{Version: 1, Device: device, Site: site, Kind: kind, DecisionTimeoutMS: 2000, IssuedAt: proto.At(time.Now()),
		Offline:  &proto.OfflinePolicy{MaxEntriesPerDay: 2, DenyListMaxAgeH: 24, PassBackS: 600},
		DenyList: &proto.DenyList{Version: 1, IssuedAt: proto.At(time.Now()), Subjects: deny}}.Encode()
	if err != nil {
		c.t.Fatal(err)
	}
	c.publish(c.mq.Topics.Config(site, device), b)
	c.t.Cleanup(func() {
		c.publish(c.mq.Topics.Config(site, device), nil)
		c.publish(c.mq.Topics.Status(site, device), nil)
		g := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(c.mq.URL).SetClientID("gate-" + device).
			SetCleanSession(true).SetUsername(c.mq.GateUser).SetPassword(c.mq.GatePassword))
		if tok := g.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			g.Disconnect(100)
		}
	})
}

func (c *cloud) publish(topic string, b []byte) {
	if tok := c.svc.Publish(topic, 1, true, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		c.t.Errorf("publish %s: %v", topic, tok.Error())
	}
}

// gate starts an agent in this process, with a state directory, reaching
// the broker at brokerURL.
func (c *cloud) gate(site, device string, kind proto.Kind, brokerURL string) *agent.Agent {
	c.t.Helper()
	v, err := vneid.NewVerifier(vneid.VerifierConfig{Issuer: vneidsim.DefaultIssuer, JWKSURL: c.idpURL + "/.well-known/jwks.json"})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := v.Refresh(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	a, err := agent.New(agent.Config{Device: device, Site: site, Kind: kind, Topics: c.mq.Topics,
		BrokerURL: brokerURL, Username: c.mq.GateUser, Password: c.mq.GatePassword, DecisionTimeout: 2 * time.Second,
		Matcher: vneidmatch.Matcher{Client: &vneid.MatchClient{BaseURL: c.idpURL, ClientKey: clientKey}},
		Gate:    gatesim.New(device, nil), Logger: quiet(), Dir: c.t.TempDir(), Verifier: v, ResendAfter: 2 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(a.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx); err != nil {
		c.t.Fatal(err)
	}
	return a
}

// ledgerOf is what the ledger says of one rider: fare charges and balance.
func (c *cloud) ledgerOf(subject string) (charges int, balance int64) {
	c.t.Helper()
	ctx := context.Background()
	err := c.store.Pool().QueryRow(ctx, `SELECT count(*) FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
		WHERE e.account_id = $1 AND t.idempotency_key LIKE 'fare:%'`, string(ledger.Rider(subject))).Scan(&charges)
	if err != nil {
		c.t.Fatal(err)
	}
	a, err := c.store.Account(ctx, ledger.Rider(subject))
	if err != nil {
		c.t.Fatal(err)
	}
	return charges, a.Balance.IntPart()
}

// recorded returns the event ids of the taps recorded for devices, with the
// number of rows each (the primary key makes it one).
func (c *cloud) recorded(devices ...string) map[string]int {
	c.t.Helper()
	rows, err := c.store.Pool().Query(context.Background(), `SELECT event_id::text FROM taps WHERE device = ANY($1)`, devices)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			c.t.Fatal(err)
		}
		out[id]++
	}
	if err := rows.Err(); err != nil {
		c.t.Fatal(err)
	}
	return out
}

// offlineRecorded counts the taps recorded with an offline decision, if the
// store keeps them (services/settlepg, being rewritten, adds the columns).
func (c *cloud) offlineRecorded(devices ...string) (int, bool) {
	var n int
	err := c.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM taps WHERE device = ANY($1) AND offline_rule IS NOT NULL`, devices).Scan(&n)
	return n, err == nil
}

// history is what the store holds of a rider, for a failure message.
func (c *cloud) history(subject string) string {
	var b strings.Builder
	rows, err := c.store.Pool().Query(context.Background(), `SELECT kind, site, captured_at, received_at, reason, coalesce(journey_id, 0)
		FROM taps WHERE subject = $1 ORDER BY received_at`, subject)
	if err != nil {
		return err.Error()
	}
	for rows.Next() {
		var kind, site, reason string
		var captured, received time.Time
		var j int64
		rows.Scan(&kind, &site, &captured, &received, &reason, &j)
		fmt.Fprintf(&b, "  tap %s %s captured %s received %s: %s, journey %d\n", kind, site, captured.Format("15:04:05.000"), received.Format("15:04:05.000"), reason, j)
	}
	rows.Close()
	rows, err = c.store.Pool().Query(context.Background(), `SELECT id, coalesce(entry_site, ''), coalesce(exit_site, ''), status, coalesce(fare, 0)::bigint, coalesce(fare_rule, '')
		FROM journeys WHERE subject = $1 ORDER BY id`, subject)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	for rows.Next() {
		var id, fare int64
		var entry, exit, status, rule string
		rows.Scan(&id, &entry, &exit, &status, &fare, &rule)
		fmt.Fprintf(&b, "  journey %d %s -> %s %s %d %s\n", id, entry, exit, status, fare, rule)
	}
	return b.String()
}

func (c *cloud) checkBooks() {
	c.t.Helper()
	b, err := c.store.Books(context.Background())
	if err != nil || !b.Balanced() {
		c.t.Errorf("books %+v, %v", b, err)
	}
}

func (c *cloud) price(from, to string) int64 {
	c.t.Helper()
	q, err := c.fares.PriceFor(fare.Query{From: from, To: to, At: time.Now()})
	if err != nil {
		c.t.Fatal(err)
	}
	return q.Amount.IntPart()
}

// newProxy stands between gates and the broker: a station's network that a
// test can cut (every connection dropped, new ones refused) and restore,
// without touching the broker other tests share (internal/netcut).
func newProxy(t testing.TB, brokerURL string) *netcut.Link {
	t.Helper()
	l, err := netcut.New(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func waitUntil(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	catLinh = "hn2a-cat-linh"
	haDong  = "hn2a-ha-dong"
)

// TestBrokerUnreachableRidersKeepPassing: a station's network to the broker
// goes down while riders keep entering and leaving. The gates decide offline
// at once (the deny list still applies), queue every tap on disk, and when
// the network is back drain the queue in order; every tap reaches the
// ledger exactly once and every rider is charged exactly once.
func TestBrokerUnreachableRidersKeepPassing(t *testing.T) {
	c := startCloud(t)
	link := newProxy(t, c.mq.URL)
	in, out := testenv.Name("hn2a-cat-linh-in-"), testenv.Name("hn2a-ha-dong-out-")
	rs := c.riders(30, "079191")
	denied := c.riders(1, "079192")[0]
	c.push(catLinh, in, proto.KindMetroEntry, denied.subject)
	c.push(haDong, out, proto.KindMetroExit, denied.subject)
	gin := c.gate(catLinh, in, proto.KindMetroEntry, link.URL())
	gout := c.gate(haDong, out, proto.KindMetroExit, link.URL())
	waitUntil(t, 5*time.Second, "both configs", func() (bool, string) {
		return gin.Stats().ConfigsApplied == 1 && gout.Stats().ConfigsApplied == 1, ""
	})

	var acted []string
	var slowestOffline time.Duration
	ride := func(r rider, wantOffline bool) {
		t.Helper()
		for _, g := range []*agent.Agent{gin, gout} {
			start := time.Now()
			res, err := g.Tap(context.Background(), r.face, "")
			took := time.Since(start)
			if err != nil || !res.Decision.Open || res.Offline != wantOffline {
				t.Fatalf("%s at %s: %+v, %v; want open, offline=%v", r.subject, g.Device(), res, err, wantOffline)
			}
			if wantOffline && took > 300*time.Millisecond {
				t.Errorf("offline decision took %v: the gate made the rider wait", took)
			}
			if wantOffline {
				slowestOffline = max(slowestOffline, took)
			}
			acted = append(acted, res.EventID)
		}
	}
	for _, r := range rs[:10] {
		ride(r, false)
	}

	link.Cut()
	outageStart := time.Now()
	waitUntil(t, 10*time.Second, "the gates to see the network down", func() (bool, string) {
		return !gin.Connected() && !gout.Connected(), ""
	})
	for _, r := range rs[10:20] {
		ride(r, true)
		time.Sleep(*outage / 10)
	}
	res, err := gin.Tap(context.Background(), denied.face, "")
	if err != nil || res.Decision.Open || !res.Offline || res.Decision.Reason != proto.ReasonAccountSuspended {
		t.Fatalf("deny-listed rider offline: %+v, %v", res, err)
	}
	acted = append(acted, res.EventID)
	if d := gin.Stats().QueueDepth + gout.Stats().QueueDepth; d != 21 {
		t.Errorf("queued during the outage: %d taps, want 21", d)
	}

	link.Restore()
	restored := time.Now()
	waitUntil(t, 30*time.Second, "the queues to drain", func() (bool, string) {
		a, b := gin.Stats().QueueDepth, gout.Stats().QueueDepth
		return a+b == 0, fmt.Sprintf("%d + %d queued", a, b)
	})
	drain := time.Since(restored)
	for _, r := range rs[20:] {
		ride(r, false)
	}

	// Every tap the gates acted on is recorded, once; nothing else is.
	waitUntil(t, 10*time.Second, "every tap recorded", func() (bool, string) {
		n := len(c.recorded(in, out))
		return n == len(acted), fmt.Sprintf("%d of %d", n, len(acted))
	})
	got := c.recorded(in, out)
	for _, id := range acted {
		if got[id] != 1 {
			t.Errorf("tap %s recorded %d times", id, got[id])
		}
	}
	// Every rider charged exactly once, the fare of the journey. A rider
	// whose exit reached the cloud before the entry (both gates drained at
	// once) was charged the maximum fare for a missing entry, and refunded
	// the difference when the entry came.
	fareNormal := c.price(catLinh, haDong)
	for i, r := range rs {
		if n, bal := c.ledgerOf(r.subject); n != 1 || bal != 100_000-fareNormal {
			t.Errorf("rider %d: %d charges, balance %d; want 1 charge, balance %d\n%s", i, n, bal, 100_000-fareNormal, c.history(r.subject))
		}
	}
	var corrected int
	if err := c.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM ledger_transactions WHERE idempotency_key LIKE 'fare-correction:%'`).Scan(&corrected); err != nil {
		t.Fatal(err)
	}
	if n, bal := c.ledgerOf(denied.subject); n != 0 || bal != 100_000 {
		t.Errorf("deny-listed rider: %d charges, balance %d", n, bal)
	}
	c.checkBooks()
	off, kept := c.offlineRecorded(in, out)
	s1, s2 := gin.Stats(), gout.Stats()
	t.Logf("outage %v: %d offline decisions (%d opened, %d refused; slowest tap %v, match included), %d taps queued; drained in %v after the network came back; %d of 10 offline journeys settled exit first (maximum fare, then refunded); offline decisions recorded by the store: %d (store keeps them: %v)",
		restored.Sub(outageStart).Round(time.Millisecond), s1.OfflineOpened+s1.OfflineRefused+s2.OfflineOpened+s2.OfflineRefused,
		s1.OfflineOpened+s2.OfflineOpened, s1.OfflineRefused+s2.OfflineRefused, slowestOffline.Round(10*time.Microsecond), 21, drain.Round(time.Millisecond), corrected, off, kept)
	if kept && off != 21 {
		t.Errorf("%d taps recorded with their offline decision, want 21", off)
	}
}

// child is a turnstile-agent process (this test binary, run as the agent).
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // the gate's event lines
	logs  string      // path of its JSON log
	done  chan error
}

func (c *cloud) startChild(t *testing.T, args []string, logPath string) *child {
	t.Helper()
	argv, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(argv),
		"VNPASS_MQTT_GATE_USER="+c.mq.GateUser, "VNPASS_MQTT_GATE_PASSWORD="+c.mq.GatePassword,
		"VNPASS_VNEID_URL="+c.idpURL, "VNPASS_VNEID_CLIENT_KEY="+clientKey, "VNPASS_VNEID_ISSUER="+vneidsim.DefaultIssuer)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 1024), logs: logPath, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ch.lines <- sc.Text()
		}
		close(ch.lines)
	}()
	go func() { ch.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return ch
}

// tap feeds one face to the child's camera and returns the gate's line.
func (ch *child) tap(face string) string {
	ch.t.Helper()
	if _, err := fmt.Fprintln(ch.stdin, face); err != nil {
		ch.t.Fatal(err)
	}
	select {
	case l, ok := <-ch.lines:
		if !ok {
			ch.t.Fatalf("agent exited: %s", tail(ch.logs))
		}
		return l
	case <-time.After(15 * time.Second):
		ch.t.Fatalf("no gate event for a tap; logs:\n%s", tail(ch.logs))
	}
	return ""
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// decidedIDs reads the event ids the agent logged as acted on, in order.
func decidedIDs(t *testing.T, path string) (ids []string, offline int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var e struct {
			Msg     string `json:"msg"`
			EventID string `json:"event_id"`
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		switch e.Msg {
		case "tap decided":
			ids = append(ids, e.EventID)
		case "tap decided offline":
			ids = append(ids, e.EventID)
			offline++
		}
	}
	return ids, offline
}

// TestAgentKilledMidStream: the exit gate's agent is a real process. It is
// killed with SIGKILL twice while riders pass: once offline, with taps
// decided offline still queued and a rider mid-tap, once online with a tap
// in flight; each time it is started again on the same state directory. It
// sends what was queued under the same event ids; every tap the gate acted
// on is recorded exactly once and every rider pays exactly once.
func TestAgentKilledMidStream(t *testing.T) {
	c := startCloud(t)
	link := newProxy(t, c.mq.URL)
	in, out := testenv.Name("hn2a-cat-linh-in-"), testenv.Name("hn2a-ha-dong-out-")
	rs := c.riders(40, "079193")
	c.push(haDong, out, proto.KindMetroExit)
	gin := c.gate(catLinh, in, proto.KindMetroEntry, c.mq.URL)
	for _, r := range rs {
		if res, err := gin.Tap(context.Background(), r.face, ""); err != nil || !res.Decision.Open || res.Local {
			t.Fatalf("entry: %+v, %v", res, err)
		}
	}

	state, logs := t.TempDir(), filepath.Join(t.TempDir(), "agent.log")
	args := []string{"-device", out, "-site", haDong, "-kind", "metro_exit", "-root", c.mq.Topics.Root,
		"-broker", link.URL(), "-state", state, "-log-level", "DEBUG"}
	pass := func(a *child, rs []rider, pause time.Duration) {
		t.Helper()
		for _, r := range rs {
			if l := a.tap(r.face); !strings.Contains(l, "OPEN") {
				t.Fatalf("exit: %s", l)
			}
			time.Sleep(pause) // riders a little apart: the queue drains meanwhile
		}
	}
	// kill feeds a rider's face and kills the agent under them, somewhere
	// between reading the capture and driving the gate.
	kill := func(a *child, r rider) {
		t.Helper()
		fmt.Fprintln(a.stdin, r.face)
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-a.done
		for range a.lines {
		}
	}

	a := c.startChild(t, args, logs)
	pass(a, rs[:10], 0)
	link.Cut()
	time.Sleep(300 * time.Millisecond) // the agent notices the link is gone
	pass(a, rs[10:20], 0)
	kill(a, rs[20]) // offline, ten taps queued
	queuedAtKill := 10

	link.Restore()
	restart := time.Now()
	b := c.startChild(t, args, logs)
	pass(b, rs[20:30], 30*time.Millisecond) // rider 20 tries again, whatever the gate did
	kill(b, rs[30])                         // online, a tap in flight
	firstRestart := time.Since(restart)

	d := c.startChild(t, args, logs)
	pass(d, rs[30:], 30*time.Millisecond)
	d.stdin.Close() // end of input: the agent waits for its queue to drain, then stops
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("agent after restart: %v\n%s", err, tail(logs))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("restarted agent did not stop; logs:\n%s", tail(logs))
	}

	acted, offline := decidedIDs(t, logs)
	got := c.recorded(out)
	for _, id := range acted {
		if got[id] != 1 {
			t.Errorf("tap %s the gate acted on recorded %d times", id, got[id])
		}
	}
	// At most two more: the taps of the riders under whom the agent died,
	// if they were queued before it did.
	if extra := len(got) - len(acted); extra < 0 || extra > 2 {
		t.Errorf("%d taps recorded for %d acted on", len(got), len(acted))
	}
	fareNormal := c.price(catLinh, haDong)
	for i, r := range rs {
		if n, bal := c.ledgerOf(r.subject); n != 1 || bal != 100_000-fareNormal {
			t.Errorf("rider %d: %d charges, balance %d; want 1 charge, balance %d", i, n, bal, 100_000-fareNormal)
		}
	}
	c.checkBooks()
	if os.Getenv("E2E_DUMP") != "" {
		b, _ := os.ReadFile(logs)
		t.Log(string(b))
	}
	t.Logf("killed twice (offline with %d exits queued, online with a tap in flight), each time a rider mid-tap; first restart sent the queue and served 10 riders in %v; %d taps acted on (%d offline), %d recorded",
		queuedAtKill, firstRestart.Round(time.Millisecond), len(acted), offline, len(got))
}

// TestGivenUpTapAndItsOfflineRetapChargeOnce is the timeout race seen from
// the cloud: the gate gave up on a tap that the cloud decided and charged in
// time but whose decision never reached the gate, and decided offline on a
// new tap from the same capture. The rider is charged once.
func TestGivenUpTapAndItsOfflineRetapChargeOnce(t *testing.T) {
	c := startCloud(t)
	link := newProxy(t, c.mq.URL)
	in, out := testenv.Name("hn2a-cat-linh-in-"), testenv.Name("hn2a-ha-dong-out-")
	rs := c.riders(1, "079194")
	c.push(haDong, out, proto.KindMetroExit)
	gin := c.gate(catLinh, in, proto.KindMetroEntry, c.mq.URL)
	gout := c.gate(haDong, out, proto.KindMetroExit, link.URL())
	if res, err := gin.Tap(context.Background(), rs[0].face, ""); err != nil || !res.Decision.Open {
		t.Fatalf("entry: %+v %v", res, err)
	}
	// The given-up tap, as the cloud receives it: decided, charged, and its
	// decision lost with the gate's link.
	link.Cut()
	waitUntil(t, 10*time.Second, "the gate to see the link down", func() (bool, string) { return !gout.Connected(), "" })
	assertion, _, err := c.idp.Match(context.Background(), rs[0].face, out)
	if err != nil {
		t.Fatal(err)
	}
	first := proto.Tap{EventID: proto.NewEventID(time.Now()), Device: out, Site: haDong, Kind: proto.KindMetroExit,
		Assertion: assertion, CapturedAt: proto.At(time.Now())}
	b, _ := first.Encode()
	if tok := c.svc.Publish(c.mq.Topics.Taps(haDong, out), 1, false, b); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	waitUntil(t, 10*time.Second, "the given-up exit to be recorded", func() (bool, string) { return len(c.recorded(out)) == 1, "" })
	// The gate's offline decision on a new tap, sent when the link is back.
	res, err := gout.Tap(context.Background(), rs[0].face, "")
	if err != nil || !res.Offline || !res.Decision.Open || res.EventID == first.EventID {
		t.Fatalf("offline exit: %+v, %v", res, err)
	}
	link.Restore()
	waitUntil(t, 15*time.Second, "the offline exit to be recorded", func() (bool, string) {
		return len(c.recorded(out)) == 2 && gout.Stats().QueueDepth == 0, fmt.Sprint(len(c.recorded(out)))
	})
	if n, bal := c.ledgerOf(rs[0].subject); n != 1 || bal != 100_000-c.price(catLinh, haDong) {
		t.Errorf("%d charges, balance %d; want one charge", n, bal)
	}
	c.checkBooks()
}
