package partnerhttp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/partnerpg"
	"github.com/vnpass/vnpass/services/settlepg"
)

// passFixture is the API with passes: the partner store and settlement on
// one database, the shipped fare data.
func passFixture(t *testing.T) (*fixture, *settlepg.Store) {
	t.Helper()
	f := &fixture{t: t, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, keys: map[string]ed25519.PrivateKey{}}
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	settle, err := settlepg.Open(ctx, url, f.clock.now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(settle.Close)
	f.store, err = partnerpg.Open(ctx, url, partnerpg.Config{RefKey: bytes.Repeat([]byte("k"), 32), ClaimJTI: noClaim, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.store.Close)
	fares, err := fare.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	f.auth, _ = authjwt.New(bytes.Repeat([]byte("s"), 32), f.clock.now)
	api, err := New(Config{Store: f.store, Auth: f.auth, Now: f.clock.now, Fares: fares,
		Passes: SettlePasses{Partners: f.store, Settle: settle, Now: f.clock.now}})
	if err != nil {
		t.Fatal(err)
	}
	f.app = fiber.New(fiber.Config{DisableStartupMessage: true})
	api.Mount(f.app)
	return f, settle
}

func decodePass(t *testing.T, body string) PassJSON {
	t.Helper()
	var p PassJSON
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("pass: %v: %s", err, body)
	}
	return p
}

// TestPartnerBindsListsRevokesPasses: a partner binds a day pass it sold,
// priced by the fare data and recorded with nothing charged and no ledger
// movement; the same key again is the same pass; it lists and revokes it.
func TestPartnerBindsListsRevokesPasses(t *testing.T) {
	f, settle := passFixture(t)
	ctx := context.Background()
	f.register("ve-metro", 600, partner.ScopePasses, partner.ScopeTickets)
	const subject = "vn_subject_pass_0001"
	ref := f.consent(subject, "ve-metro", "passes")
	tok := f.token("ve-metro", partner.ScopePasses)
	path := "/partner/v1/riders/" + ref + "/passes"
	req := PassRequest{ProductID: "hn2a-day", ExternalID: "SALE-1", IdempotencyKey: "k1"}

	// No vnpass account: nothing to hold the pass.
	if code, body := f.do("POST", path, tok, req); code != 409 || !strings.Contains(body, "no-account") {
		t.Fatalf("bind without an account: %d %s", code, body)
	}
	if _, err := settle.OpenRiderAccount(ctx, subject); err != nil {
		t.Fatal(err)
	}
	code, body := f.do("POST", path, tok, req)
	if code != 201 {
		t.Fatalf("bind: %d %s", code, body)
	}
	p := decodePass(t, body)
	day, _ := fare.Day(f.clock.now())
	if p.PassID == 0 || p.RiderRef != ref || p.ProductID != "hn2a-day" || p.NetworkID != "hn2a" || p.Category != "adult" ||
		p.ListPriceVND != 30000 || p.ChargedVND != 0 || p.Status != "active" || p.ExternalID != "SALE-1" ||
		p.ValidUntil != day.AddDate(0, 0, 1).In(fare.Zone).Format(time.RFC3339) || strings.Contains(body, subject) {
		t.Errorf("bound pass: %s", body)
	}

	// Retried a little later: the same pass. The key or the sale id for
	// another: 409.
	f.clock.add(3 * time.Second)
	if code, body := f.do("POST", path, tok, req); code != 200 || decodePass(t, body).PassID != p.PassID {
		t.Errorf("the same key again: %d %s", code, body)
	}
	if code, body := f.do("POST", path, tok, PassRequest{ProductID: "hn2a-month", ExternalID: "SALE-1", IdempotencyKey: "k1"}); code != 409 || !strings.Contains(body, "idempotency-key-reused") {
		t.Errorf("the key for another pass: %d %s", code, body)
	}
	if code, body := f.do("POST", path, tok, PassRequest{ProductID: "hn2a-day", ExternalID: "SALE-1", IdempotencyKey: "k2"}); code != 409 || !strings.Contains(body, "external-id-used") {
		t.Errorf("the sale id again under another key: %d %s", code, body)
	}
	for name, bad := range map[string]PassRequest{
		"unknown product":   {ProductID: "hn2a-year", ExternalID: "S-9", IdempotencyKey: "k9"},
		"not a pass":        {ProductID: "hn2a-single", ExternalID: "S-9", IdempotencyKey: "k9"},
		"no external id":    {ProductID: "hn2a-day", IdempotencyKey: "k9"},
		"no key":            {ProductID: "hn2a-day", ExternalID: "S-9"},
		"start in the past": {ProductID: "hn2a-day", ExternalID: "S-9", IdempotencyKey: "k9", Start: f.clock.now().Add(-time.Hour).Format(time.RFC3339)},
	} {
		if code, body := f.do("POST", path, tok, bad); code != 400 {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}

	// Nothing charged, nothing in the ledger; the pass is the partner's.
	books, err := settle.Books(ctx)
	if err != nil || books.Transactions != 0 || !books.Balanced() {
		t.Errorf("books after binding: %+v %v", books, err)
	}
	var amount, list decimal.Decimal
	var source, owner string
	if err := settle.Pool().QueryRow(ctx, `SELECT amount, list_amount, source, partner_id FROM passes WHERE id = $1`, p.PassID).
		Scan(&amount, &list, &source, &owner); err != nil || !amount.IsZero() || list.IntPart() != 30000 || source != "partner" || owner != "ve-metro" {
		t.Errorf("stored pass: %s %s %s %s %v", amount, list, source, owner, err)
	}

	// A month pass starting on the 1st of next month, listed too.
	first, _ := fare.Month(f.clock.now())
	next := first.AddDate(0, 1, 0)
	if code, body := f.do("POST", path, tok, PassRequest{ProductID: "hn2a-month", Category: "student", ExternalID: "SALE-2",
		IdempotencyKey: "k2", Start: next.Format(time.RFC3339)}); code != 201 || decodePass(t, body).Status != "upcoming" || decodePass(t, body).ListPriceVND != 100000 {
		t.Errorf("month pass from next month: %d %s", code, body)
	}
	code, body = f.do("GET", path, tok, nil)
	var list2 struct {
		RiderRef string     `json:"rider_ref"`
		Passes   []PassJSON `json:"passes"`
	}
	json.Unmarshal([]byte(body), &list2)
	if code != 200 || list2.RiderRef != ref || len(list2.Passes) != 2 || list2.Passes[1].PassID != p.PassID {
		t.Errorf("list: %d %s", code, body)
	}

	// Revoked: from now on; again, the same answer.
	f.clock.add(time.Minute)
	code, body = f.do("DELETE", path+"/"+strconv.FormatInt(p.PassID, 10), tok, nil)
	rv := decodePass(t, body)
	if code != 200 || rv.Status != "revoked" || rv.RevokedAt == "" || rv.PassID != p.PassID {
		t.Fatalf("revoke: %d %s", code, body)
	}
	f.clock.add(time.Minute)
	if code, body := f.do("DELETE", path+"/"+strconv.FormatInt(p.PassID, 10), tok, nil); code != 200 || decodePass(t, body).RevokedAt != rv.RevokedAt {
		t.Errorf("revoke again: %d %s", code, body)
	}
	// Settlement no longer counts it from the revocation on.
	var until time.Time
	if err := settle.Pool().QueryRow(ctx, `SELECT least(valid_until, revoked_at) FROM passes WHERE id = $1`, p.PassID).Scan(&until); err != nil ||
		until.Format(time.RFC3339Nano) != rv.RevokedAt {
		t.Errorf("validity after revocation: %v %v, want %s", until, err, rv.RevokedAt)
	}

	// The rider sees the partner's pass calls in the access log.
	code, body = f.do("GET", "/partner/v1/me/access", f.rider(subject), nil)
	if code != 200 || strings.Count(body, "/riders/:rider_ref/passes") < 8 || !strings.Contains(body, "/riders/:rider_ref/passes/:pass_id") {
		t.Errorf("access log: %d %s", code, body)
	}
}

// TestPassRefusalsTellNothing: no consent for passes, a wrong scope, a
// made-up or another partner's handle, another partner's or another
// rider's pass id: the same refusals as for tickets, nothing about the
// rider; every call audited.
func TestPassRefusalsTellNothing(t *testing.T) {
	f, settle := passFixture(t)
	ctx := context.Background()
	f.register("ve-metro", 600, partner.ScopePasses, partner.ScopeTickets)
	f.register("xe-om", 600, partner.ScopePasses)
	f.register("ve-tau", 600, partner.ScopeTickets)
	const hoa, lan = "vn_subject_hoa_0001", "vn_subject_lan_0002"
	for _, s := range []string{hoa, lan} {
		if _, err := settle.OpenRiderAccount(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	ref := f.consent(hoa, "ve-metro", "passes")
	lanRef := f.consent(lan, "ve-metro", "passes")
	otherRef := f.consent(hoa, "xe-om", "passes") // the same rider, another partner
	ticketsOnly := f.consent(lan, "xe-om", "tickets")
	tok := f.token("ve-metro", partner.ScopePasses)
	other := f.token("xe-om", partner.ScopePasses)
	code, body := f.do("POST", "/partner/v1/riders/"+ref+"/passes", tok, PassRequest{ProductID: "hn2a-day", ExternalID: "S-1", IdempotencyKey: "k1"})
	if code != 201 {
		t.Fatalf("bind: %d %s", code, body)
	}
	id := strconv.FormatInt(decodePass(t, body).PassID, 10)
	req := PassRequest{ProductID: "hn2a-day", ExternalID: "S-2", IdempotencyKey: "k2"}

	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		kind                      string
	}{
		{"no token", "GET", "/partner/v1/riders/" + ref + "/passes", "", nil, 401, "unauthenticated"},
		{"tickets token", "POST", "/partner/v1/riders/" + ref + "/passes", f.token("ve-metro", partner.ScopeTickets), req, 403, "insufficient-scope"},
		{"passes not registered", "GET", "/partner/v1/riders/" + ref + "/passes", f.token("ve-tau", partner.ScopePasses), nil, 403, "insufficient-scope"},
		{"bind with consent for tickets only", "POST", "/partner/v1/riders/" + ticketsOnly + "/passes", other, req, 403, "no-consent"},
		{"list with consent for tickets only", "GET", "/partner/v1/riders/" + ticketsOnly + "/passes", other, nil, 403, "no-consent"},
		{"bind with another partner's handle", "POST", "/partner/v1/riders/" + ref + "/passes", other, req, 403, "no-consent"},
		{"bind with a made-up handle", "POST", "/partner/v1/riders/r_madeup/passes", tok, req, 403, "no-consent"},
		{"list with a made-up handle", "GET", "/partner/v1/riders/r_madeup/passes", tok, nil, 403, "no-consent"},
		{"revoke another partner's pass", "DELETE", "/partner/v1/riders/" + otherRef + "/passes/" + id, other, nil, 404, "not-found"},
		{"revoke through another partner's handle", "DELETE", "/partner/v1/riders/" + ref + "/passes/" + id, other, nil, 404, "not-found"},
		{"revoke it as another rider's", "DELETE", "/partner/v1/riders/" + lanRef + "/passes/" + id, tok, nil, 404, "not-found"},
		{"revoke a pass nobody bound", "DELETE", "/partner/v1/riders/" + ref + "/passes/999999", tok, nil, 404, "not-found"},
		{"revoke with a made-up handle", "DELETE", "/partner/v1/riders/r_madeup/passes/" + id, tok, nil, 404, "not-found"},
		{"revoke a pass id that is no number", "DELETE", "/partner/v1/riders/" + ref + "/passes/abc", tok, nil, 404, "not-found"},
	}
	bodies := map[string]string{}
	for _, c := range cases {
		code, body := f.do(c.method, c.path, c.token, c.body)
		var pr map[string]any
		json.Unmarshal([]byte(body), &pr)
		if code != c.status || pr["title"] != c.kind {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.status, c.kind)
		}
		for _, secret := range []string{hoa, lan, ref, lanRef, otherRef, "hn2a", "S-1"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s: the refusal shows %q: %s", c.name, secret, body)
			}
		}
		if prev, ok := bodies[c.kind]; ok && prev != body && c.kind != "insufficient-scope" {
			t.Errorf("%s: the refusal differs from another of its kind: %s vs %s", c.name, body, prev)
		}
		bodies[c.kind] = body
	}
	// Still in force, untouched by the refusals.
	if code, body := f.do("GET", "/partner/v1/riders/"+ref+"/passes", tok, nil); code != 200 || !strings.Contains(body, `"active"`) {
		t.Errorf("list: %d %s", code, body)
	}

	// Withdrawn: no more binding or reading; the seller may still revoke
	// what it sold (a refund at its counter).
	if code, body := f.do("DELETE", "/partner/v1/me/consents/ve-metro", f.rider(hoa), nil); code != 200 {
		t.Fatalf("withdraw: %d %s", code, body)
	}
	if code, _ := f.do("POST", "/partner/v1/riders/"+ref+"/passes", tok, req); code != 403 {
		t.Errorf("bind after withdrawal: %d", code)
	}
	if code, _ := f.do("GET", "/partner/v1/riders/"+ref+"/passes", tok, nil); code != 403 {
		t.Errorf("list after withdrawal: %d", code)
	}
	if code, body := f.do("DELETE", "/partner/v1/riders/"+ref+"/passes/"+id, tok, nil); code != 200 || !strings.Contains(body, `"revoked"`) {
		t.Errorf("revoke after withdrawal: %d %s", code, body)
	}

	trail, err := f.store.AuditTrail(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	passCalls := 0
	for _, e := range trail {
		if strings.Contains(e.Route, "/passes") {
			passCalls++
		}
		if strings.Contains(e.Route, ref) || strings.Contains(e.Route, "/passes/"+id) {
			t.Errorf("audit route with a handle or pass id: %+v", e)
		}
	}
	if want := 1 + len(cases) + 1 + 3; passCalls != want {
		t.Errorf("%d pass calls audited, want %d", passCalls, want)
	}
}
