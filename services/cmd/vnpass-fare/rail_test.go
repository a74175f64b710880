package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/partnerhttp"
	"github.com/vnpass/vnpass/services/partnerpg"
	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/services/vneidsim"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
	"github.com/vnpass/vnpass/turnstile-agent/vneidmatch"
)

// webhookSink is a partner's webhook endpoint: it checks signatures and
// keeps each delivery id once.
type webhookSink struct {
	mu     sync.Mutex
	secret []byte
	seen   map[string]int
	events []partnerpg.Event
	bad    int
}

func (w *webhookSink) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := partnerhttp.Verify(w.secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
		w.bad++
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	id := r.Header.Get("webhook-id")
	w.seen[id]++
	if w.seen[id] == 1 {
		var e partnerpg.Event
		json.Unmarshal(body, &e)
		w.events = append(w.events, e)
	}
	rw.WriteHeader(http.StatusNoContent)
}

func (w *webhookSink) got() []partnerpg.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]partnerpg.Event(nil), w.events...)
}

// TestRailGateWithPartnerTicket: a ticketing partner binds a train ticket
// to a rider who consented; the rider passes a Hanoi Station gate (a real
// agent of kind rail_gate over Mosquitto) once, with no fare; a second
// pass on the same ticket is refused with a clear VI/EN display; the
// partner gets a signed webhook, once; the used ticket can no longer be
// cancelled.
func TestRailGateWithPartnerTicket(t *testing.T) {
	p := startPlatform(t)
	ctx := context.Background()
	call := p.call

	// The partner registers (platform admin) and gets its webhook secret.
	sink := &webhookSink{seen: map[string]int{}}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	code, reg := call("POST", "/partner/v1/admin/partners", p.token, partnerhttp.RegisterRequest{
		ID: "dsvn-tickets", Name: "Đường sắt Việt Nam", Kind: "ticketing", PublicKey: base64.RawURLEncoding.EncodeToString(pub),
		Scopes: []string{"tickets"}, WebhookURL: hook.URL,
	})
	if code != 201 {
		t.Fatalf("register partner: %d %v", code, reg)
	}
	sink.mu.Lock()
	sink.secret, _ = base64.RawURLEncoding.DecodeString(reg["webhook_secret"].(string))
	sink.mu.Unlock()

	// The rider (no vnpass account needed: rail gates charge nothing)
	// consents in the VNeID app; the partner's app gets the rider's handle.
	e, _, err := p.idp.Enroll(ctx, vneidsim.Enrollment{CCCD: "001190001234", FullName: "Trần Văn Nam", DateOfBirth: "1985-02-01"})
	if err != nil {
		t.Fatal(err)
	}
	riderTok, _ := p.main.Auth.Issue(e.Subject, authjwt.RoleRider, time.Hour)
	code, cons := call("PUT", "/partner/v1/me/consents/dsvn-tickets", riderTok, partnerhttp.GrantRequest{
		Scopes: []string{"tickets"}, ExpiresAt: time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339),
	})
	if code != 200 {
		t.Fatalf("consent: %d %v", code, cons)
	}
	ref := cons["rider_ref"].(string)
	if strings.Contains(ref, e.Subject) {
		t.Fatal("the rider's handle shows the subject")
	}

	// The partner binds the ticket it sold: SE1, departing in 30 minutes.
	tok, _ := partnerhttp.SignPartnerToken(priv, "dsvn-tickets", []partner.Scope{partner.ScopeTickets}, time.Now(), 5*time.Minute)
	dep := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	code, tk := call("PUT", "/partner/v1/tickets/VNR-0001", tok, partnerhttp.TicketRequest{
		RiderRef: ref, Train: "SE1", Departure: dep.UTC().Format(time.RFC3339), Coach: "5", Seat: "21", Origin: "HNO", Destination: "SGO",
	})
	if code != 201 || tk["status"] != "valid" {
		t.Fatalf("bind ticket: %d %v", code, tk)
	}

	// A real gate agent at Hanoi Station.
	gate := gatesim.New("ga-ha-noi-g03", nil)
	a, err := agent.New(agent.Config{
		Device: "ga-ha-noi-g03", Site: "ga-ha-noi", Kind: proto.KindRailGate, Topics: p.broker.Topics,
		BrokerURL: p.broker.URL, Username: p.broker.GateUser, Password: p.broker.GatePassword, DecisionTimeout: 10 * time.Second,
		Matcher: vneidmatch.Matcher{Client: &vneid.MatchClient{BaseURL: p.idpURL, ClientKey: clientKey}},
		Gate:    gate, Logger: quietLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)

	first, err := a.Tap(ctx, e.FaceRef, "")
	if err != nil {
		t.Fatal(err)
	}
	d := first.Decision
	if first.Local || !d.Open || d.Reason != proto.ReasonOK || d.FareVND != nil || d.BalanceVND != nil {
		t.Fatalf("first pass: %+v", first)
	}
	local := dep.In(time.FixedZone("ICT", 7*3600)).Format("15:04")
	if d.Display.VI != "Mời qua · Tàu SE1 "+local+" · Toa 5 ghế 21" || d.Display.EN != "Please pass · Train SE1 "+local+" · Coach 5 seat 21" {
		t.Errorf("first pass display: %+v", d.Display)
	}
	second, err := a.Tap(ctx, e.FaceRef, "")
	if err != nil {
		t.Fatal(err)
	}
	if second.Local || second.Decision.Open || second.Decision.Reason != proto.ReasonTicketUsed {
		t.Fatalf("second pass: %+v", second)
	}
	if second.Decision.Display != (proto.Display{VI: "Vé tàu đã được sử dụng", EN: "Train ticket already used"}) {
		t.Errorf("second pass display: %+v", second.Decision.Display)
	}
	if st := gate.State(); st.Opened != 1 || st.Refused != 1 {
		t.Errorf("gate opened %d, refused %d; want 1 and 1", st.Opened, st.Refused)
	}

	// The partner is told, once, with a valid signature.
	waitFor(t, 10*time.Second, "the webhook", func() (bool, string) { return len(sink.got()) == 1, "none yet" })
	ev := sink.got()[0]
	var data map[string]string
	json.Unmarshal(ev.Data, &data)
	if ev.Type != "rail.ticket.used" || data["ticket_id"] != "VNR-0001" || data["rider_ref"] != ref || data["gate"] != "ga-ha-noi-g03" || data["station"] != "HNO" {
		t.Errorf("webhook: %+v %v", ev, data)
	}
	var state string
	p.main.Partners.Store.Pool().QueryRow(ctx, `SELECT state FROM webhook_deliveries WHERE id = $1`, ev.ID).Scan(&state)
	if state != "delivered" {
		t.Errorf("delivery state %q, want delivered", state)
	}

	// The used ticket reads as used and can no longer be cancelled.
	code, tk = call("GET", "/partner/v1/tickets/VNR-0001", tok, nil)
	if code != 200 || tk["status"] != "used" {
		t.Errorf("ticket after use: %d %v", code, tk)
	}
	if code, pr := call("DELETE", "/partner/v1/tickets/VNR-0001", tok, nil); code != 409 || pr["title"] != "ticket-used" {
		t.Errorf("cancel a used ticket: %d %v", code, pr)
	}
	// No fare anywhere: the rider has no vnpass account and none was opened.
	var taps, used int
	p.main.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM taps`).Scan(&taps)
	p.main.Partners.Store.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE ticket_id IS NOT NULL) FROM rail_taps`).Scan(&used)
	if taps != 0 || used != 1 {
		t.Errorf("metro taps %d (want 0), rail taps on a ticket %d (want 1)", taps, used)
	}
	// The service serves its OpenAPI document, and it describes exactly
	// the partner routes the running service serves.
	resp, err := http.Get(p.apiURL + "/partner/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := partnerhttp.CheckSpec(doc, p.main.app); err != nil {
		t.Error(err)
	}
	// Every partner API call was audited.
	var audited int
	p.main.Partners.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM partner_audit`).Scan(&audited)
	if audited != 6 {
		t.Errorf("%d calls audited, want 6", audited)
	}
}

// TestRidePartnerFollowsJourneysWithConsent: a ride app the rider lets read
// journeys and charges hears of each finished metro journey (signed
// webhook) and reads them through the API; after the rider withdraws,
// it reads nothing and hears of nothing more.
func TestRidePartnerFollowsJourneysWithConsent(t *testing.T) {
	p := startPlatform(t)
	ctx := context.Background()
	call := p.call
	sink := &webhookSink{seen: map[string]int{}}
	hook := httptest.NewServer(sink)
	t.Cleanup(hook.Close)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	code, reg := call("POST", "/partner/v1/admin/partners", p.token, partnerhttp.RegisterRequest{
		ID: "xe-buyt", Name: "Xe buýt Hà Nội", Kind: "ride", PublicKey: base64.RawURLEncoding.EncodeToString(pub),
		Scopes: []string{"journeys:read", "charges:read"}, WebhookURL: hook.URL,
	})
	if code != 201 {
		t.Fatalf("register: %d %v", code, reg)
	}
	sink.mu.Lock()
	sink.secret, _ = base64.RawURLEncoding.DecodeString(reg["webhook_secret"].(string))
	sink.mu.Unlock()

	subject, face := p.rider("001090077777")
	riderTok, _ := p.main.Auth.Issue(subject, authjwt.RoleRider, time.Hour)
	code, cons := call("PUT", "/partner/v1/me/consents/xe-buyt", riderTok, partnerhttp.GrantRequest{
		Scopes: []string{"journeys:read", "charges:read"}, ExpiresAt: time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
	})
	if code != 200 {
		t.Fatalf("consent: %d %v", code, cons)
	}
	ref := cons["rider_ref"].(string)

	in, out := p.rawGate("hn2a-cat-linh", "hn2a-cat-linh-in01"), p.rawGate("hn2a-ha-dong", "hn2a-ha-dong-out01")
	if d := in.send(proto.KindMetroEntry, p.assertion(face, "hn2a-cat-linh-in01")); !d.Open {
		t.Fatalf("entry: %+v", d)
	}
	exit := out.send(proto.KindMetroExit, p.assertion(face, "hn2a-ha-dong-out01"))
	if !exit.Open || exit.FareVND == nil {
		t.Fatalf("exit: %+v", exit)
	}
	fare := *exit.FareVND

	waitFor(t, 15*time.Second, "the journey webhook", func() (bool, string) { return len(sink.got()) == 1, "none yet" })
	ev := sink.got()[0]
	var data partnerpg.JourneyCompleted
	json.Unmarshal(ev.Data, &data)
	if ev.Type != "journey.completed" || data.RiderRef != ref || data.FareVND != fare || data.EntryStation != "hn2a-cat-linh" || data.ExitStation != "hn2a-ha-dong" {
		t.Errorf("webhook: %+v %+v", ev, data)
	}

	tok, _ := partnerhttp.SignPartnerToken(priv, "xe-buyt", []partner.Scope{partner.ScopeJourneys, partner.ScopeCharges}, time.Now(), 5*time.Minute)
	code, js := call("GET", "/partner/v1/riders/"+ref+"/journeys", tok, nil)
	list, _ := js["journeys"].([]any)
	if code != 200 || len(list) != 1 || list[0].(map[string]any)["fare_vnd"] != float64(fare) {
		t.Errorf("journeys: %d %v", code, js)
	}
	code, cs := call("GET", "/partner/v1/riders/"+ref+"/charges", tok, nil)
	charges, _ := cs["charges"].([]any)
	if code != 200 || len(charges) != 1 || charges[0].(map[string]any)["amount_vnd"] != float64(-fare) {
		t.Errorf("charges (the top-up is not one): %d %v", code, cs)
	}
	if strings.Contains(fmt.Sprint(js, cs), subject) {
		t.Error("the partner saw the rider's subject")
	}

	// Withdrawn: nothing more, at once.
	if code, _ := call("DELETE", "/partner/v1/me/consents/xe-buyt", riderTok, nil); code != 200 {
		t.Fatalf("withdraw: %d", code)
	}
	if code, _ := call("GET", "/partner/v1/riders/"+ref+"/journeys", tok, nil); code != 403 {
		t.Errorf("journeys after withdrawal: %d", code)
	}
	in.send(proto.KindMetroEntry, p.assertion(face, "hn2a-cat-linh-in01"))
	out.send(proto.KindMetroExit, p.assertion(face, "hn2a-ha-dong-out01"))
	if n, err := p.main.Partners.Store.EnqueueJourneyEvents(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("after withdrawal %d journey events enqueued (%v), want 0", n, err)
	}
	if got := len(sink.got()); got != 1 {
		t.Errorf("%d webhooks, want 1", got)
	}
}
