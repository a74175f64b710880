package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/vnpass/vnpass/internal/netcut"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/partnerhttp"
	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/services/vneidsim"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
	"github.com/vnpass/vnpass/turnstile-agent/vneidmatch"
)

// TestRailGateOfflineOnPushedTickets: a Hanoi Station gate (a real agent
// with its state directory) gets the station's tickets from the fare
// service (GET /v1/rail/tickets, pushed in its config as the fleet service
// pushes it); the station's network to the broker is cut. Offline, the
// ticket holder passes once, a second pass and a rider without a ticket
// are refused with the reason; when the network is back the cloud records
// the three taps, the ticket used exactly once (by the offline pass), and
// the partner hears of it once.
func TestRailGateOfflineOnPushedTickets(t *testing.T) {
	start := time.Now()
	p := startPlatform(t)
	ctx := context.Background()
	const site, device = "ga-ha-noi", "ga-ha-noi-g05"

	// A ticketing partner with a webhook; a rider who consents and holds
	// a ticket bound by it; another rider without any.
	sink := &webhookSink{seen: map[string]int{}}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	code, reg := p.call("POST", "/partner/v1/admin/partners", p.token, partnerhttp.RegisterRequest{
		ID: "dsvn-offline", Name: "Đường sắt Việt Nam", Kind: "ticketing", PublicKey: base64.RawURLEncoding.EncodeToString(pub),
		Scopes: []string{"tickets"}, WebhookURL: hook.URL,
	})
	if code != 201 {
		t.Fatalf("register partner: %d %v", code, reg)
	}
	sink.mu.Lock()
	sink.secret, _ = base64.RawURLEncoding.DecodeString(reg["webhook_secret"].(string))
	sink.mu.Unlock()
	holder, _, err := p.idp.Enroll(ctx, vneidsim.Enrollment{CCCD: "001190005555", FullName: "Lê Thị Hoa", DateOfBirth: "1990-03-08"})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := p.idp.Enroll(ctx, vneidsim.Enrollment{CCCD: "001190006666", FullName: "Đỗ Văn Minh", DateOfBirth: "1979-12-30"})
	if err != nil {
		t.Fatal(err)
	}
	riderTok, _ := p.main.Auth.Issue(holder.Subject, authjwt.RoleRider, time.Hour)
	code, cons := p.call("PUT", "/partner/v1/me/consents/dsvn-offline", riderTok, partnerhttp.GrantRequest{
		Scopes: []string{"tickets"}, ExpiresAt: time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
	})
	if code != 200 {
		t.Fatalf("consent: %d %v", code, cons)
	}
	tok, _ := partnerhttp.SignPartnerToken(priv, "dsvn-offline", []partner.Scope{partner.ScopeTickets}, time.Now(), 5*time.Minute)
	dep := time.Now().Add(40 * time.Minute).Truncate(time.Second)
	code, tk := p.call("PUT", "/partner/v1/tickets/VNR-OFF-1", tok, partnerhttp.TicketRequest{
		RiderRef: cons["rider_ref"].(string), Train: "SE3", Departure: dep.UTC().Format(time.RFC3339), Coach: "7", Seat: "12", Origin: "HNO", Destination: "DNA",
	})
	if code != 201 {
		t.Fatalf("bind ticket: %d %v", code, tk)
	}

	// The station's tickets, as the fleet service reads them: staff only.
	if code, _ := p.call("GET", "/v1/rail/tickets?station=ga-ha-noi", riderTok, nil); code != 403 {
		t.Errorf("a rider read the station's tickets: %d", code)
	}
	if code, _ := p.call("GET", "/v1/rail/tickets?station=nowhere", p.token, nil); code != 404 {
		t.Errorf("unknown station: %d", code)
	}
	list := railTicketList(t, p, "/v1/rail/tickets?station=HNO&hours=6")
	if len(list.Tickets) != 1 || list.Tickets[0].Subject != holder.Subject || list.Tickets[0].Train != "SE3" || list.Station != "HNO" || list.AdmitBeforeS != 3600 {
		t.Fatalf("station tickets: %+v", list)
	}

	// The gate, behind a network the test can cut, with its config.
	svc := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(p.broker.URL).SetClientID(testenv.Name("fleet-")).
		SetUsername(p.broker.ServiceUser).SetPassword(p.broker.ServicePassword))
	if tok := svc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("service connect: %v", tok.Error())
	}
	t.Cleanup(func() { svc.Disconnect(100) })
	retain := func(topic string, b []byte) {
		if tok := svc.Publish(topic, 1, true, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Errorf("publish %s: %v", topic, tok.Error())
		}
	}
	list.Version = 1
	cfg, err := proto.Config{Version: 1, Device: device, Site: site, Kind: proto.KindRailGate, DecisionTimeoutMS: 2000,
		IssuedAt: proto.At(time.Now()), Tickets: &list}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	retain(p.broker.Topics.Config(site, device), cfg)
	link := newLinkProxy(t, p.broker.URL)
	v, err := vneid.NewVerifier(vneid.VerifierConfig{Issuer: "https://vneid-sim.test", JWKSURL: p.idpURL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	gate := gatesim.New(device, nil)
	a, err := agent.New(agent.Config{
		Device: device, Site: site, Kind: proto.KindRailGate, Topics: p.broker.Topics,
		BrokerURL: link.URL(), Username: p.broker.GateUser, Password: p.broker.GatePassword, DecisionTimeout: 2 * time.Second,
		Matcher: vneidmatch.Matcher{Client: &vneid.MatchClient{BaseURL: p.idpURL, ClientKey: clientKey}},
		Gate:    gate, Logger: quietLog(), Dir: t.TempDir(), Verifier: v, ResendAfter: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		retain(p.broker.Topics.Config(site, device), nil)
		retain(p.broker.Topics.Status(site, device), nil)
		g := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(p.broker.URL).SetClientID("gate-" + device).
			SetCleanSession(true).SetUsername(p.broker.GateUser).SetPassword(p.broker.GatePassword))
		if tok := g.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			g.Disconnect(100)
		}
	})
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Connect(cctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the config", func() (bool, string) { return a.Stats().ConfigsApplied == 1, "" })

	// The network goes down; riders keep coming.
	link.Cut()
	waitFor(t, 10*time.Second, "the gate to see the network down", func() (bool, string) { return !a.Connected(), "" })
	var slowest time.Duration
	tapOff := func(who vneidsim.Enrolled, open bool, reason proto.Reason) string {
		t.Helper()
		t0 := time.Now()
		res, err := a.Tap(ctx, who.FaceRef, "")
		if err != nil || !res.Offline || res.Decision.Open != open || res.Decision.Reason != reason {
			t.Fatalf("%s offline: %+v, %v; want open=%v %s", who.Subject, res, err, open, reason)
		}
		took := time.Since(t0)
		if took > 500*time.Millisecond {
			t.Errorf("offline decision took %v", took)
		}
		slowest = max(slowest, took)
		return res.EventID
	}
	passed := tapOff(holder, true, proto.ReasonOK)
	again := tapOff(holder, false, proto.ReasonTicketUsed)
	stranger := tapOff(other, false, proto.ReasonNoTicket)
	if st := gate.State(); st.Opened != 1 || st.Refused != 2 {
		t.Errorf("gate opened %d, refused %d; want 1 and 2", st.Opened, st.Refused)
	}
	if d := a.Stats().QueueDepth; d != 3 {
		t.Errorf("%d taps queued during the outage, want 3", d)
	}

	// The network is back: the queue drains and the cloud settles.
	link.Restore()
	restored := time.Now()
	waitFor(t, 15*time.Second, "the queue to drain", func() (bool, string) {
		d := a.Stats().QueueDepth
		return d == 0, fmt.Sprintf("%d queued", d)
	})
	drained := time.Since(restored)
	pool := p.main.Partners.Store.Pool()
	var taps, offline, onTicket int
	var status, usedEvent string
	pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE offline), count(*) FILTER (WHERE ticket_id IS NOT NULL) FROM rail_taps WHERE device = $1`, device).
		Scan(&taps, &offline, &onTicket)
	pool.QueryRow(ctx, `SELECT status, coalesce(used_event::text, '') FROM rail_tickets WHERE ticket_ref = 'VNR-OFF-1'`).Scan(&status, &usedEvent)
	if taps != 3 || offline != 3 || onTicket != 1 || status != "used" || usedEvent != passed {
		t.Errorf("rail taps %d (offline %d, on a ticket %d), ticket %s by %s; want 3, 3, 1, used by %s", taps, offline, onTicket, status, usedEvent, passed)
	}
	// Each tap's own reason (by event id: the three were captured within
	// a few milliseconds, and captured_at has millisecond precision).
	var reasons []string
	for _, ev := range []string{passed, again, stranger} {
		var r string
		pool.QueryRow(ctx, `SELECT reason FROM rail_taps WHERE event_id = $1`, ev).Scan(&r)
		reasons = append(reasons, r)
	}
	if fmt.Sprint(reasons) != "[ok ticket_used no_ticket]" {
		t.Errorf("recorded reasons %v", reasons)
	}
	waitFor(t, 10*time.Second, "the webhook", func() (bool, string) { return len(sink.got()) == 1, "none yet" })
	hooked := time.Since(restored)
	time.Sleep(300 * time.Millisecond)
	sink.mu.Lock()
	for id, n := range sink.seen {
		if n != 1 {
			t.Errorf("webhook %s delivered %d times", id, n)
		}
	}
	sink.mu.Unlock()
	var data map[string]string
	ev := sink.got()
	json.Unmarshal(ev[0].Data, &data)
	if len(ev) != 1 || ev[0].Type != "rail.ticket.used" || data["ticket_id"] != "VNR-OFF-1" || data["gate"] != device {
		t.Errorf("webhooks %+v %v", ev, data)
	}
	// Online again, the cloud decides: the ticket is used.
	res, err := a.Tap(ctx, holder.FaceRef, "")
	if err != nil || res.Offline || res.Decision.Open || res.Decision.Reason != proto.ReasonTicketUsed {
		t.Errorf("online after the outage: %+v, %v", res, err)
	}
	t.Logf("slowest offline decision %v (with the VNeID match); queue drained %v and webhook received %v after the link came back; test took %v",
		slowest, drained, hooked, time.Since(start))
}

// railTicketList reads the station's tickets as the fleet service does.
func railTicketList(t *testing.T, p *platform, path string) proto.TicketList {
	t.Helper()
	req, _ := http.NewRequest("GET", p.apiURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	var l proto.TicketList
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&l); err != nil {
		t.Fatal(err)
	}
	return l
}

// newLinkProxy stands between a gate and the broker: a station's network
// the test cuts and restores (internal/netcut).
func newLinkProxy(t *testing.T, brokerURL string) *netcut.Link {
	t.Helper()
	l, err := netcut.New(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}
