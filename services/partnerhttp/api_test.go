package partnerhttp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/partnerpg"
)

// clock is a settable clock for the API, the store and tokens.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t     *testing.T
	store *partnerpg.Store
	app   *fiber.App
	auth  *authjwt.Issuer
	clock *clock
	keys  map[string]ed25519.PrivateKey
}

func noClaim(context.Context, pgx.Tx, string, string, time.Time) (bool, error) { return true, nil }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, keys: map[string]ed25519.PrivateKey{}}
	var err error
	f.store, err = partnerpg.Open(context.Background(), testenv.PostgresURL(t), partnerpg.Config{
		RefKey: bytes.Repeat([]byte("k"), 32), ClaimJTI: noClaim, Now: f.clock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.store.Close)
	f.auth, _ = authjwt.New(bytes.Repeat([]byte("s"), 32), f.clock.now)
	api, err := New(Config{Store: f.store, Auth: f.auth, Now: f.clock.now, Log: nil})
	if err != nil {
		t.Fatal(err)
	}
	f.app = fiber.New(fiber.Config{DisableStartupMessage: true})
	api.Mount(f.app)
	return f
}

func (f *fixture) register(id string, rate int, scopes ...partner.Scope) {
	f.t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	f.keys[id] = priv
	if _, err := f.store.RegisterPartner(context.Background(), partner.Partner{ID: id, Name: id, Kind: partner.KindTicketing,
		PublicKey: pub, Scopes: scopes, RatePerMin: rate}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) token(id string, scopes ...partner.Scope) string {
	tok, err := SignPartnerToken(f.keys[id], id, scopes, f.clock.now(), 5*time.Minute)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func (f *fixture) rider(subject string) string {
	tok, _ := f.auth.Issue(subject, authjwt.RoleRider, time.Hour)
	return tok
}

// do calls the API and returns the status and the raw body.
func (f *fixture) do(method, path, token string, body any) (int, string) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.app.Test(req, 10_000)
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) consent(subject, partnerID string, scopes ...string) string {
	f.t.Helper()
	code, body := f.do("PUT", "/partner/v1/me/consents/"+partnerID, f.rider(subject),
		GrantRequest{Scopes: scopes, ExpiresAt: f.clock.now().Add(24 * time.Hour).Format(time.RFC3339)})
	if code != 200 {
		f.t.Fatalf("consent: %d %s", code, body)
	}
	var c ConsentJSON
	json.Unmarshal([]byte(body), &c)
	return c.RiderRef
}

func ticket(ref string, dep time.Time) TicketRequest {
	return TicketRequest{RiderRef: ref, Train: "SE3", Departure: dep.Format(time.RFC3339), Coach: "2", Seat: "7", Origin: "HNO", Destination: "DNA"}
}

// TestRefusalsTellNothing: without consent, with a wrong scope, with an
// expired, forged or over-long token, or with another partner's ticket
// id, a partner gets a clear refusal, the same whatever the rider's state,
// and nothing about the rider; every call is audited.
func TestRefusalsTellNothing(t *testing.T) {
	f := newFixture(t)
	f.register("ve-tau", 600, partner.ScopeTickets, partner.ScopeJourneys)
	f.register("xe-om", 600, partner.ScopeTickets)
	const subject = "vn_subject_hoa_0001"
	ref := f.consent(subject, "ve-tau", "tickets")
	dep := f.clock.now().Add(2 * time.Hour)
	good := f.token("ve-tau", partner.ScopeTickets)
	if code, body := f.do("PUT", "/partner/v1/tickets/T-1", good, ticket(ref, dep)); code != 201 {
		t.Fatalf("bind: %d %s", code, body)
	}

	forger, _ := SignPartnerToken(mustKey(), "ve-tau", []partner.Scope{partner.ScopeTickets}, f.clock.now(), 5*time.Minute)
	expired, _ := SignPartnerToken(f.keys["ve-tau"], "ve-tau", []partner.Scope{partner.ScopeTickets}, f.clock.now().Add(-20*time.Minute), 5*time.Minute)
	tooLong, _ := SignPartnerToken(f.keys["ve-tau"], "ve-tau", []partner.Scope{partner.ScopeTickets}, f.clock.now(), 24*time.Hour)
	unknown, _ := SignPartnerToken(f.keys["ve-tau"], "nobody", []partner.Scope{partner.ScopeTickets}, f.clock.now(), 5*time.Minute)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, PartnerClaims{Scope: "tickets", RegisteredClaims: jwt.RegisteredClaims{
		Issuer: "ve-tau", Audience: jwt.ClaimStrings{Audience}, IssuedAt: jwt.NewNumericDate(f.clock.now()), ExpiresAt: jwt.NewNumericDate(f.clock.now().Add(time.Minute))}})
	hsTok, _ := hs.SignedString(f.keys["ve-tau"].Public().(ed25519.PublicKey)) // "alg confusion": the public key as an HMAC secret
	other := f.token("xe-om", partner.ScopeTickets)
	noScope := f.token("ve-tau", partner.ScopeJourneys)

	otherRef := f.consent("vn_subject_lan_0002", "xe-om", "tickets") // a rider of the other partner
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		kind                      string
	}{
		{"no token", "GET", "/partner/v1/tickets/T-1", "", nil, 401, "unauthenticated"},
		{"forged token", "GET", "/partner/v1/tickets/T-1", forger, nil, 401, "unauthenticated"},
		{"expired token", "GET", "/partner/v1/tickets/T-1", expired, nil, 401, "unauthenticated"},
		{"token valid for a day", "GET", "/partner/v1/tickets/T-1", tooLong, nil, 401, "unauthenticated"},
		{"unknown partner", "GET", "/partner/v1/tickets/T-1", unknown, nil, 401, "unauthenticated"},
		{"HS256 with the public key", "GET", "/partner/v1/tickets/T-1", hsTok, nil, 401, "unauthenticated"},
		{"rider token on a partner route", "GET", "/partner/v1/tickets/T-1", f.rider(subject), nil, 401, "unauthenticated"},
		{"wrong scope in the token", "GET", "/partner/v1/tickets/T-1", noScope, nil, 403, "insufficient-scope"},
		{"scope not registered", "GET", "/partner/v1/riders/" + ref + "/charges", f.token("ve-tau", partner.ScopeCharges), nil, 403, "insufficient-scope"},
		{"another partner's ticket id", "GET", "/partner/v1/tickets/T-1", other, nil, 404, "not-found"},
		{"a ticket id nobody bound", "GET", "/partner/v1/tickets/T-404", other, nil, 404, "not-found"},
		{"cancel another partner's ticket", "DELETE", "/partner/v1/tickets/T-1", other, nil, 404, "not-found"},
		{"bind for a rider who consented to another partner", "PUT", "/partner/v1/tickets/X-1", other, ticket(ref, dep), 403, "no-consent"},
		{"bind with another partner's rider handle", "PUT", "/partner/v1/tickets/T-2", good, ticket(otherRef, dep), 403, "no-consent"},
		{"bind with a made-up handle", "PUT", "/partner/v1/tickets/T-2", good, ticket("r_madeup", dep), 403, "no-consent"},
		{"journeys without consent for journeys", "GET", "/partner/v1/riders/" + ref + "/journeys", f.token("ve-tau", partner.ScopeJourneys), nil, 403, "no-consent"},
		{"journeys of an unknown handle", "GET", "/partner/v1/riders/r_madeup/journeys", f.token("ve-tau", partner.ScopeJourneys), nil, 403, "no-consent"},
		{"rider consents with a partner token", "GET", "/partner/v1/me/consents", good, nil, 401, "unauthenticated"},
		{"register a partner as a rider", "POST", "/partner/v1/admin/partners", f.rider(subject), RegisterRequest{ID: "x"}, 403, "forbidden"},
	}
	bodies := map[string]string{}
	for _, c := range cases {
		code, body := f.do(c.method, c.path, c.token, c.body)
		var pr map[string]any
		json.Unmarshal([]byte(body), &pr)
		if code != c.status || pr["title"] != c.kind {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.status, c.kind)
		}
		for _, secret := range []string{subject, ref, otherRef, "SE3", "HNO"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s: the refusal shows %q: %s", c.name, secret, body)
			}
		}
		if prev, ok := bodies[c.kind]; ok && prev != body && c.kind != "insufficient-scope" {
			t.Errorf("%s: the refusal differs from another of its kind: %s vs %s", c.name, body, prev)
		}
		bodies[c.kind] = body
	}

	// Withdrawal takes effect at once: the next call is refused, and a
	// later use of the ticket tells the partner nothing.
	if code, body := f.do("DELETE", "/partner/v1/me/consents/ve-tau", f.rider(subject), nil); code != 200 {
		t.Fatalf("withdraw: %d %s", code, body)
	}
	if code, body := f.do("GET", "/partner/v1/tickets/T-1", good, nil); code != 403 || strings.Contains(body, ref) {
		t.Errorf("read after withdrawal: %d %s", code, body)
	}
	if code, body := f.do("PUT", "/partner/v1/tickets/T-3", good, ticket(ref, dep)); code != 403 {
		t.Errorf("bind after withdrawal: %d %s", code, body)
	}
	// The issuer may still cancel the ticket it sold (its own business),
	// and learns no rider handle from it.
	if code, body := f.do("DELETE", "/partner/v1/tickets/T-1", good, nil); code != 200 || strings.Contains(body, ref) || !strings.Contains(body, `"cancelled"`) {
		t.Errorf("cancel after withdrawal: %d %s", code, body)
	}
	// A consent that expired is no consent.
	ref2 := f.consent("vn_subject_minh_0003", "ve-tau", "tickets")
	f.clock.add(25 * time.Hour)
	if code, _ := f.do("PUT", "/partner/v1/tickets/T-4", f.token("ve-tau", partner.ScopeTickets), ticket(ref2, f.clock.now().Add(time.Hour))); code != 403 {
		t.Errorf("bind under an expired consent: %d", code)
	}

	// Every call is in the audit, refusals included, with no handle in it.
	trail, err := f.store.AuditTrail(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 + 1 + len(cases) + 4 + 1; len(trail) != want {
		t.Errorf("%d calls audited, want %d", len(trail), want)
	}
	for _, e := range trail {
		if strings.Contains(e.Route, ref) || strings.Contains(e.Route, "T-1") {
			t.Errorf("audit route with a rider handle: %+v", e)
		}
	}
	// The rider sees who asked about them, refusals included.
	code, body := f.do("GET", "/partner/v1/me/access", f.rider(subject), nil)
	var acc struct{ Access []AccessJSON }
	json.Unmarshal([]byte(body), &acc)
	refused := 0
	for _, e := range acc.Access {
		if e.Status >= 400 {
			refused++
		}
	}
	if code != 200 || len(acc.Access) != 4 || refused != 2 {
		t.Errorf("the rider's access log: %d %s", code, body)
	}
	if _, err := f.store.Pool().Exec(context.Background(), `DELETE FROM partner_audit`); err == nil {
		t.Error("the audit can be deleted")
	}
}

func mustKey() ed25519.PrivateKey {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	return k
}

// TestRateLimitPerPartner: a partner over its rate gets 429 with
// Retry-After; another partner is not slowed.
func TestRateLimitPerPartner(t *testing.T) {
	f := newFixture(t)
	f.register("slow", 3, partner.ScopeTickets)
	f.register("fast", 600, partner.ScopeTickets)
	for i := 0; i < 3; i++ {
		if code, _ := f.do("GET", "/partner/v1/tickets/none", f.token("slow", partner.ScopeTickets), nil); code != 404 {
			t.Fatalf("call %d: %d", i, code)
		}
	}
	code, body := f.do("GET", "/partner/v1/tickets/none", f.token("slow", partner.ScopeTickets), nil)
	if code != 429 || !strings.Contains(body, "rate-limited") {
		t.Errorf("4th call in a minute: %d %s", code, body)
	}
	if code, _ := f.do("GET", "/partner/v1/tickets/none", f.token("fast", partner.ScopeTickets), nil); code != 404 {
		t.Errorf("another partner: %d", code)
	}
	f.clock.add(20 * time.Second) // one token back at 3 per minute
	if code, _ := f.do("GET", "/partner/v1/tickets/none", f.token("slow", partner.ScopeTickets), nil); code != 404 {
		t.Errorf("after 20 s: %d", code)
	}
}
