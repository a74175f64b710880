package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/loadtest/rush"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/vneidsim"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
)

const clientKey = "test-client-key-0123456789abcdef"

// platform is the fare service and a VNeID provider, running in-process on
// the real PostgreSQL, Mosquitto and ClickHouse.
type platform struct {
	t      *testing.T
	main   *Main
	cfg    Config
	idp    *vneidsim.Server
	idpURL string
	broker testenv.MQTT
	apiURL string
	token  string
	fares  *fare.Table
	skew   time.Duration // added to the provider's clock
	skewMu sync.Mutex
}

func quietLog() *slog.Logger {
	if os.Getenv("VNPASS_TEST_LOG") != "" {
		return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}

func startPlatform(t *testing.T) *platform {
	t.Helper()
	return startPlatformWith(t, nil)
}

// startPlatformWith starts the platform with the config changed by edit.
func startPlatformWith(t *testing.T, edit func(*Config)) *platform {
	t.Helper()
	p := preparePlatform(t)
	if edit != nil {
		edit(&p.cfg)
	}
	p.main = &Main{Config: p.cfg, Log: quietLog()}
	if err := p.main.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.main.Close() })
	p.apiURL = "http://" + p.main.APIAddr()
	var err error
	p.token, err = p.main.Auth.Issue("e2e-admin", authjwt.RoleAdmin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// preparePlatform starts the VNeID provider and makes the fare service's
// config (fresh database, topic root and ClickHouse database) without
// starting the service.
func preparePlatform(t *testing.T) *platform {
	t.Helper()
	p := &platform{t: t, broker: testenv.Broker(t)}
	idp, err := vneidsim.New(vneidsim.Config{
		Issuer: "https://vneid-sim.test", ClientKey: clientKey,
		Now: func() time.Time {
			p.skewMu.Lock()
			defer p.skewMu.Unlock()
			return time.Now().Add(p.skew)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go idp.Serve(ln)
	t.Cleanup(func() { idp.Close() })
	p.idp, p.idpURL = idp, "http://"+ln.Addr().String()

	ch := testenv.ClickHouseDB(t)
	secret := strings.Repeat("s", 32)
	cfg := Config{
		PostgresURL: testenv.PostgresURL(t), MQTTURL: p.broker.URL,
		MQTTUser: p.broker.ServiceUser, MQTTPassword: p.broker.ServicePassword,
		Topics: p.broker.Topics, Instance: testenv.Name("e2e-"),
		CHAddr: ch.Addr, CHUser: ch.User, CHPassword: ch.Password, CHDatabase: ch.Database,
		ExportInterval: 100 * time.Millisecond, DecisionTimeout: 10 * time.Second,
		MinTapInterval: time.Millisecond, // the simulated rides last a fraction of a second
		VNeIDIssuer:    "https://vneid-sim.test", VNeIDJWKSURL: p.idpURL + "/.well-known/jwks.json",
		APIAddr: "127.0.0.1:0", APISecret: secret, PseudonymKey: strings.Repeat("p", 32),
	}
	p.cfg = cfg
	if p.fares, err = fare.LoadGTFS(fare.HanoiData()); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *platform) api() *rush.API {
	return &rush.API{BaseURL: p.apiURL, Token: p.token, HTTP: &http.Client{Timeout: 10 * time.Second, Transport: withReason{}}}
}

// withReason states the purpose of the tests' staff reads (X-Access-Reason,
// required of staff reading a rider's data, SECURITY.md).
type withReason struct{}

func (withReason) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Access-Reason", "end-to-end test")
	return http.DefaultTransport.RoundTrip(r)
}

// line2A lists the Line 2A stations from the shipped fare data.
func (p *platform) line2A() []string {
	var out []string
	for _, s := range p.fares.Stops() {
		if strings.HasPrefix(s.ID, "hn2a-") {
			out = append(out, s.ID)
		}
	}
	if len(out) != 12 {
		p.t.Fatalf("Line 2A has %d stations in the fare data, want 12", len(out))
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRushOnLine2A: hundreds of riders enter and exit at Line 2A stations
// through gate agents over Mosquitto. Every gate gets a decision, every
// balance falls by exactly the fare, the ledger balances and ClickHouse
// holds one row per tap.
func TestRushOnLine2A(t *testing.T) {
	p := startPlatform(t)
	ctx := context.Background()
	const riders = 300
	const topUp = 100_000
	rep, err := rush.Run(ctx, rush.Config{
		Stations: p.line2A(), GatesPerStation: 2, Riders: riders,
		Window: 4 * time.Second, RideTime: 500 * time.Millisecond, TopUpVND: topUp,
		Topics: p.broker.Topics, BrokerURL: p.broker.URL, GateUser: p.broker.GateUser, GatePass: p.broker.GatePassword,
		DecisionTimeout: 10 * time.Second,
		VNeIDURL:        p.idpURL, VNeIDClientKey: clientKey, APIURL: p.apiURL, APIToken: p.token,
		Log: quietLog(), Seed: 24,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Taps != 2*riders || rep.Opened != 2*riders || rep.TimedOut != 0 || rep.Refused != 0 {
		var reasons []string
		rows, err := p.main.Store.Pool().Query(ctx, `SELECT kind || ' ' || reason || ': ' || count(*) FROM taps WHERE NOT open GROUP BY kind, reason`)
		if err == nil {
			for rows.Next() {
				var r string
				rows.Scan(&r)
				reasons = append(reasons, r)
			}
			rows.Close()
		}
		gate := map[string]int{}
		for _, tr := range rep.Trips {
			for _, res := range []agent.Result{tr.Entry, tr.Exit} {
				if !res.Decision.Open {
					gate[fmt.Sprintf("%s local=%v", res.Decision.Reason, res.Local)]++
				}
			}
		}
		t.Fatalf("taps %d, opened %d, refused %d (recorded refusals %v; at the gates %v), timed out %d; want %d taps all opened",
			rep.Taps, rep.Opened, rep.Refused, reasons, gate, rep.TimedOut, 2*riders)
	}
	t.Logf("%d taps in %s (%d made again after the gate's own failure); decision latency p50 %s p95 %s p99 %s",
		rep.Taps, rep.Elapsed, rep.TappedAgain, rep.Percentile(50), rep.Percentile(95), rep.Percentile(99))

	api := p.api()
	var total int64
	free := 0
	for _, trip := range rep.Trips {
		if trip.Entry.Local || trip.Exit.Local || !trip.Exited {
			t.Fatalf("trip %s -> %s did not complete through the cloud: %+v", trip.Origin, trip.Destination, trip)
		}
		stop, _ := p.fares.Stop(trip.Origin)
		category := p.fares.Category(fare.Rider{Age: trip.Rider.Age}, stop.NetworkID)
		q, err := p.fares.PriceFor(fare.Query{From: trip.Origin, To: trip.Destination, Category: category, At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if q.Amount.IsZero() {
			free++
		}
		want := q.Amount.IntPart()
		if f := trip.Exit.Decision.FareVND; f == nil || *f != want {
			t.Errorf("%s -> %s: gate showed fare %v, want %d", trip.Origin, trip.Destination, f, want)
		}
		acct, err := api.Account(ctx, trip.Rider.Subject)
		if err != nil {
			t.Fatal(err)
		}
		if acct.BalanceVND != topUp-want {
			t.Errorf("%s -> %s: balance %d, want %d - %d", trip.Origin, trip.Destination, acct.BalanceVND, topUp, want)
		}
		if b := trip.Exit.Decision.BalanceVND; b == nil || *b != acct.BalanceVND {
			t.Errorf("gate showed balance %v, account has %d", b, acct.BalanceVND)
		}
		total += want
	}

	// Three riders in twenty ride free (children under 6, people 60+).
	if free < riders/10 || free > riders/5 {
		t.Errorf("%d of %d riders rode free, want about 45", free, riders)
	}
	books, err := p.main.Store.Books(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !books.Balanced() {
		t.Errorf("ledger out of balance: %+v", books)
	}
	// riders top-ups plus the fares of those who paid.
	if books.Transactions != int64(2*riders-free) {
		t.Errorf("%d ledger transactions, want %d", books.Transactions, 2*riders-free)
	}
	if got := books.Debits.IntPart(); got != riders*topUp+total {
		t.Errorf("debits %d, want %d", got, riders*topUp+total)
	}

	waitFor(t, 30*time.Second, "ClickHouse to hold every tap", func() (bool, string) {
		c, err := p.main.Sink.Count(ctx)
		if err != nil {
			return false, err.Error()
		}
		return c.Taps == uint64(rep.Taps) && c.DistinctTaps == c.Taps && c.Journeys == riders, fmt.Sprintf("%+v", c)
	})
}

// gate is a raw MQTT gate for sending hand-made taps.
type gate struct {
	t         *testing.T
	site, dev string
	topics    proto.Topics
	client    mqtt.Client
	decisions chan proto.Decision
}

func (p *platform) rawGate(site, dev string) *gate {
	t := p.t
	g := &gate{t: t, site: site, dev: dev, topics: p.broker.Topics, decisions: make(chan proto.Decision, 4096)}
	opts := mqtt.NewClientOptions().AddBroker(p.broker.URL).SetClientID("raw-" + testenv.Name("")).
		SetUsername(p.broker.GateUser).SetPassword(p.broker.GatePassword)
	g.client = mqtt.NewClient(opts)
	if tok := g.client.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { g.client.Disconnect(100) })
	tok := g.client.Subscribe(g.topics.Decisions(site, dev), 1, func(_ mqtt.Client, m mqtt.Message) {
		d, err := proto.DecodeDecision(m.Payload())
		if err != nil {
			t.Errorf("bad decision: %v", err)
			return
		}
		g.decisions <- d
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return g
}

func (g *gate) publish(payload []byte) {
	g.t.Helper()
	tok := g.client.Publish(g.topics.Taps(g.site, g.dev), 1, false, payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		g.t.Fatalf("publish: %v", tok.Error())
	}
}

func (g *gate) tap(kind proto.Kind, assertion string) (proto.Tap, []byte) {
	g.t.Helper()
	tp := proto.Tap{EventID: proto.NewEventID(time.Now()), Device: g.dev, Site: g.site, Kind: kind,
		Assertion: assertion, CapturedAt: proto.At(time.Now())}
	b, err := tp.Encode()
	if err != nil {
		g.t.Fatal(err)
	}
	return tp, b
}

func (g *gate) decision(eventID string) proto.Decision {
	g.t.Helper()
	select {
	case d := <-g.decisions:
		if d.EventID != eventID {
			g.t.Fatalf("decision for %s, want %s", d.EventID, eventID)
		}
		return d
	case <-time.After(10 * time.Second):
		g.t.Fatalf("no decision for %s", eventID)
	}
	return proto.Decision{}
}

func (g *gate) send(kind proto.Kind, assertion string) proto.Decision {
	g.t.Helper()
	tp, b := g.tap(kind, assertion)
	g.publish(b)
	return g.decision(tp.EventID)
}

func (p *platform) rider(cccd string) (subject, faceRef string) {
	p.t.Helper()
	e, _, err := p.idp.Enroll(context.Background(), vneidsim.Enrollment{CCCD: cccd, FullName: "Lê Thị Hoa", DateOfBirth: "1990-03-08"})
	if err != nil {
		p.t.Fatal(err)
	}
	api := p.api()
	if _, err := api.Link(context.Background(), e.Subject); err != nil {
		p.t.Fatal(err)
	}
	if _, err := api.TopUp(context.Background(), e.Subject, 100_000, "e2e-"+e.Subject); err != nil {
		p.t.Fatal(err)
	}
	return e.Subject, e.FaceRef
}

func (p *platform) assertion(faceRef, device string) string {
	p.t.Helper()
	a, _, err := p.idp.Match(context.Background(), faceRef, device)
	if err != nil {
		p.t.Fatal(err)
	}
	return a
}

func (p *platform) balance(subject string) int64 {
	p.t.Helper()
	a, err := p.api().Account(context.Background(), subject)
	if err != nil {
		p.t.Fatal(err)
	}
	return a.BalanceVND
}

func wantReason(t *testing.T, what string, d proto.Decision, r proto.Reason) {
	t.Helper()
	if d.Reason != r || d.Open != (r == proto.ReasonOK) {
		t.Errorf("%s: decision %s (open=%v), want %s", what, d.Reason, d.Open, r)
	}
}

// forge signs a token with a key the provider never published, under the
// provider's own kid.
func forge(t *testing.T, kid, sub, aud string) string {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid})
	now := time.Now().Unix()
	c, _ := json.Marshal(map[string]any{"iss": "https://vneid-sim.test", "sub": sub, "aud": aud, "iat": now, "nbf": now,
		"exp": now + 60, "jti": testenv.Name("j"), "lvl": 2, "age": 30})
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	return signing + "." + enc.EncodeToString(ed25519.Sign(priv, []byte(signing)))
}

// TestBadTapsAreRefusedAndCounted: forged, expired, replayed and wrongly
// addressed assertions are refused with their reason; malformed payloads
// are counted and dropped; a redelivered tap charges once; the service
// keeps working through all of it.
func TestBadTapsAreRefusedAndCounted(t *testing.T) {
	p := startPlatform(t)
	in := p.rawGate("hn2a-cat-linh", "hn2a-cat-linh-in01")
	out := p.rawGate("hn2a-ha-dong", "hn2a-ha-dong-out01")
	subject, face := p.rider("001090012345")

	wantReason(t, "forged", in.send(proto.KindMetroEntry, forge(t, p.idp.SigningKID(), subject, in.dev)), proto.ReasonAssertionInvalid)
	wantReason(t, "wrong device", in.send(proto.KindMetroEntry, p.assertion(face, "hn2a-lang-in01")), proto.ReasonAssertionWrongDevice)
	p.skewMu.Lock()
	p.skew = -5 * time.Minute
	p.skewMu.Unlock()
	expired := p.assertion(face, in.dev)
	p.skewMu.Lock()
	p.skew = 0
	p.skewMu.Unlock()
	wantReason(t, "expired", in.send(proto.KindMetroEntry, expired), proto.ReasonAssertionExpired)

	// Malformed payloads on the taps topic: dropped and counted.
	before := p.main.Proc.Stats().Malformed.Load()
	for _, junk := range []string{"", "{", `{"v":1}`, `{"v":9}`, strings.Repeat("x", 20000)} {
		in.publish([]byte(junk))
	}
	waitFor(t, 10*time.Second, "malformed taps to be counted", func() (bool, string) {
		n := p.main.Proc.Stats().Malformed.Load() - before
		return n == 5, fmt.Sprintf("%d counted", n)
	})

	// A good journey still works, and its assertion cannot be used twice.
	entryAssertion := p.assertion(face, in.dev)
	wantReason(t, "entry", in.send(proto.KindMetroEntry, entryAssertion), proto.ReasonOK)
	wantReason(t, "replay", in.send(proto.KindMetroEntry, entryAssertion), proto.ReasonAssertionReplayed)

	// The exit tap delivered twice (as QoS 1 may): the same decision, one charge.
	exitTap, payload := out.tap(proto.KindMetroExit, p.assertion(face, out.dev))
	out.publish(payload)
	first := out.decision(exitTap.EventID)
	out.publish(payload)
	second := out.decision(exitTap.EventID)
	wantReason(t, "exit", first, proto.ReasonOK)
	if first.DecidedAt != second.DecidedAt || *first.FareVND != *second.FareVND || *first.BalanceVND != *second.BalanceVND {
		t.Errorf("redelivery got a different decision: %+v vs %+v", first, second)
	}
	q, _ := p.fares.Price("hn2a-cat-linh", "hn2a-ha-dong")
	if got, want := p.balance(subject), 100_000-q.Amount.IntPart(); got != want {
		t.Errorf("balance %d after one journey, want %d", got, want)
	}
	if n := p.main.Proc.Stats().Duplicates.Load(); n != 1 {
		t.Errorf("%d duplicates counted, want 1", n)
	}
	books, err := p.main.Store.Books(context.Background())
	if err != nil || !books.Balanced() {
		t.Errorf("books %+v, %v", books, err)
	}
}

// fundedRiders enrols n citizens and funds their accounts directly in the
// store (fast; the API path is covered by the rush test).
func (p *platform) fundedRiders(n int) (faces []string) {
	p.t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		e, _, err := p.idp.Enroll(ctx, vneidsim.Enrollment{CCCD: fmt.Sprintf("079190%06d", i), FullName: "Trần Văn Nam", DateOfBirth: "1990-01-01"})
		if err != nil {
			p.t.Fatal(err)
		}
		if _, err := p.main.Store.OpenRiderAccount(ctx, e.Subject); err != nil {
			p.t.Fatal(err)
		}
		tx, _ := ledger.Transfer("topup:burst:"+e.Subject, "topup", "", ledger.ProviderSettlement("sim"), ledger.Rider(e.Subject), money.Dong(50_000))
		if err := p.main.Store.Post(ctx, tx); err != nil {
			p.t.Fatal(err)
		}
		faces = append(faces, e.FaceRef)
	}
	return faces
}

// TestBurstLosesNoTap: a burst of taps published back to back, without
// waiting for each decision, all get their decision and all reach
// ClickHouse. Mosquitto's default queue limits would silently drop part of
// such a burst; our broker config and the service must not.
func TestBurstLosesNoTap(t *testing.T) {
	// One gate's burst is what the queues of the broker and the service must
	// carry here; the per-device limit (tapmqtt/limit.go) would pace it.
	p := startPlatformWith(t, func(c *Config) { c.TapRate = -1 })
	const n = 2000
	faces := p.fundedRiders(n)
	g := p.rawGate("hn2a-lang", "hn2a-lang-in01")
	payloads := make([][]byte, n)
	ids := make(map[string]bool, n)
	for i, f := range faces {
		tp, b := g.tap(proto.KindMetroEntry, p.assertion(f, g.dev))
		payloads[i], ids[tp.EventID] = b, true
	}
	start := time.Now()
	toks := make([]mqtt.Token, n)
	for i, b := range payloads {
		toks[i] = g.client.Publish(g.topics.Taps(g.site, g.dev), 1, false, b)
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	opened := 0
	for len(ids) > 0 {
		select {
		case d := <-g.decisions:
			if !ids[d.EventID] {
				t.Fatalf("unexpected or repeated decision %s", d.EventID)
			}
			delete(ids, d.EventID)
			if d.Open {
				opened++
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%d of %d decisions never came", len(ids), n)
		}
	}
	t.Logf("%d taps decided in %s (%.0f taps/s)", n, time.Since(start), n/time.Since(start).Seconds())
	if opened != n {
		t.Errorf("%d of %d opened", opened, n)
	}
	waitFor(t, 30*time.Second, "ClickHouse to hold the burst", func() (bool, string) {
		c, err := p.main.Sink.Count(context.Background())
		return err == nil && c.Taps == n, fmt.Sprintf("%+v %v", c, err)
	})
}

// TestReplicasAndRestart: with two replicas in the shared group, one
// stopping leaves every tap to the other (clean sessions: the broker queues
// nothing for a replica that is gone); after a restart, a tap the gate sends
// again gets the decision it was given before and is not charged again.
func TestReplicasAndRestart(t *testing.T) {
	p := startPlatform(t)
	cfg := p.main.Config
	cfg.Instance, cfg.APIAddr = testenv.Name("e2e-b-"), "127.0.0.1:0"
	replica := &Main{Config: cfg, Log: quietLog()}
	if err := replica.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 40
	faces := p.fundedRiders(n + 1)
	g := p.rawGate("hn2a-thai-ha", "hn2a-thai-ha-in01")
	first, firstPayload := g.tap(proto.KindMetroEntry, p.assertion(faces[n], g.dev))
	g.publish(firstPayload)
	before := g.decision(first.EventID)
	wantReason(t, "before", before, proto.ReasonOK)

	if err := replica.Close(); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, f := range faces[:n] {
		tp, b := g.tap(proto.KindMetroEntry, p.assertion(f, g.dev))
		ids[tp.EventID] = true
		g.publish(b)
	}
	for len(ids) > 0 {
		select {
		case d := <-g.decisions:
			if !ids[d.EventID] || !d.Open {
				t.Fatalf("decision %+v", d)
			}
			delete(ids, d.EventID)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d taps unanswered with one replica stopped", len(ids), n)
		}
	}

	if err := p.main.Close(); err != nil {
		t.Fatal(err)
	}
	p.main = &Main{Config: p.main.Config, Log: quietLog()}
	if err := p.main.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.publish(firstPayload) // the gate sends it again
	again := g.decision(first.EventID)
	if again.DecidedAt != before.DecidedAt || again.Reason != before.Reason {
		t.Errorf("tap decided before the restart was decided again: %+v, first %+v", again, before)
	}
	var taps int64
	if err := p.main.Store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM taps").Scan(&taps); err != nil || taps != n+1 {
		t.Errorf("%d taps recorded, want %d (%v)", taps, n+1, err)
	}
}

// TestOpenFailsFastWithBadCredentials: a wrong broker password fails
// start-up with a clear error instead of hanging it.
func TestOpenFailsFastWithBadCredentials(t *testing.T) {
	p := startPlatform(t)
	cfg := p.main.Config
	cfg.Instance, cfg.APIAddr, cfg.MQTTPassword = testenv.Name("e2e-bad-"), "127.0.0.1:0", "wrong"
	m := &Main{Config: cfg, Log: quietLog()}
	start := time.Now()
	err := m.Open(context.Background())
	if err == nil {
		m.Close()
		t.Fatal("opened with a wrong broker password")
	}
	if time.Since(start) > 20*time.Second || !strings.Contains(err.Error(), "connect") {
		t.Errorf("after %s: %v", time.Since(start), err)
	}
}
