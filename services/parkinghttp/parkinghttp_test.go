package parkinghttp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/services/accounthttp"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/parkinghttp"
	"github.com/vnpass/vnpass/services/parkingpg"
	"github.com/vnpass/vnpass/services/settlepg"
)

// audit keeps the audit entries in memory.
type audit struct{ entries []settlepg.AuditEntry }

func (a *audit) Audit(_ context.Context, e settlepg.AuditEntry) error {
	a.entries = append(a.entries, e)
	return nil
}

type fakeStore struct {
	audit     audit
	cat       *parking.Catalogue
	occ       map[string]parking.Occupancy
	overrides []parkingpg.Override
}

func (f *fakeStore) Catalogue() *parking.Catalogue { return f.cat }
func (f *fakeStore) Occupancy(context.Context) (map[string]parking.Occupancy, error) {
	return f.occ, nil
}
func (f *fakeStore) RecordOverride(_ context.Context, o parkingpg.Override) (parkingpg.Override, error) {
	if _, ok := f.cat.Lot(o.Lot); !ok {
		return o, parkingpg.ErrUnknownLot
	}
	f.overrides = append(f.overrides, o)
	return o, nil
}
func (f *fakeStore) BuySubscription(_ context.Context, r parkingpg.SubscriptionRequest) (parking.Subscription, decimal.Decimal, error) {
	return parking.Subscription{ID: 1, Plate: r.Plate}, decimal.NewFromInt(120000), nil
}

func (f *fakeStore) Explain(_ context.Context, id int64) (*parking.Session, *parking.Quote, error) {
	if id != 7 {
		return nil, nil, parkingpg.ErrNoSessionID
	}
	t, _ := f.cat.Tariff("hn-44-2017-car")
	in := time.Date(2026, 11, 24, 7, 0, 0, 0, parking.Zone)
	q, err := t.Quote(in, in.Add(150*time.Minute), nil)
	return &parking.Session{ID: 7, Lot: "hnp-cat-linh", Subject: "vn_a", Plate: "30A12345", Class: parking.Car, EntryAt: in,
		ExitAt: in.Add(150 * time.Minute), Fee: q.Amount, Rule: q.Steps[0].Rule}, &q, err
}

func TestSessionExplained(t *testing.T) {
	app, _, is := setup(t)
	own, _ := is.Issue("vn_a", authjwt.RoleRider, time.Hour)
	other, _ := is.Issue("vn_b", authjwt.RoleRider, time.Hour)
	code, body := call(t, app, own, "GET", "/v1/parking/sessions/7", "")
	if code != 200 || body["fee_vnd"].(float64) != 85000 || body["fee_text"] != "85.000 ₫" || len(body["quote"].(map[string]any)["steps"].([]any)) != 2 {
		t.Fatalf("own session: %d %v", code, body)
	}
	for _, c := range []struct {
		tok, path string
		want      int
	}{{other, "/v1/parking/sessions/7", 404}, {own, "/v1/parking/sessions/8", 404}, {own, "/v1/parking/sessions/x", 400}} {
		if code, _ := call(t, app, c.tok, "GET", c.path, ""); code != c.want {
			t.Errorf("%s: %d, want %d", c.path, code, c.want)
		}
	}
}

// TestSessionsScopedToTheLotOperator: the lot's operator reads its
// sessions (audited), another operator's staff get "not found", a token
// naming no operator nothing.
func TestSessionsScopedToTheLotOperator(t *testing.T) {
	app, st, is := setup(t)
	lotOp, _ := is.IssueFor("hoa", authjwt.RoleOperator, "hn-parking", time.Hour)
	otherOp, _ := is.IssueFor("minh", authjwt.RoleOperator, "hcm-parking", time.Hour)
	metro, _ := is.IssueFor("lan", authjwt.RoleOperator, "hanoi-metro", time.Hour)
	unscoped, _ := is.Issue("att-01", authjwt.RoleOperator, time.Hour)
	if code, body := call(t, app, lotOp, "GET", "/v1/parking/sessions/7", ""); code != 200 || body["plate"] != "30A12345" {
		t.Fatalf("the lot's operator: %d %v", code, body)
	}
	if len(st.audit.entries) != 1 || st.audit.entries[0].Rider != "vn_a" || st.audit.entries[0].Operator != "hn-parking" ||
		st.audit.entries[0].Action != "parking.session.read" || st.audit.entries[0].Reason != "rider complaint 12" {
		t.Errorf("audit: %+v", st.audit.entries)
	}
	for name, c := range map[string]struct {
		tok  string
		want int
	}{"another lot operator": {otherOp, 404}, "a metro operator": {metro, 404}, "no operator claim": {unscoped, 403}} {
		if code, _ := call(t, app, c.tok, "GET", "/v1/parking/sessions/7", ""); code != c.want {
			t.Errorf("%s: %d, want %d", name, code, c.want)
		}
	}
	body := `{"action":"exit","plate":"30A-123.45","reason":"reader down","idempotency_key":"k9"}`
	for name, c := range map[string]struct {
		tok  string
		want int
	}{"another lot operator": {otherOp, 404}, "a metro operator": {metro, 404}, "no operator claim": {unscoped, 403}, "the lot's operator": {lotOp, 201}} {
		if code, _ := call(t, app, c.tok, "POST", "/v1/parking/lots/hnp-cat-linh/overrides", body); code != c.want {
			t.Errorf("override by %s: %d, want %d", name, code, c.want)
		}
	}
	// Operators do not buy subscriptions on a rider's account.
	for _, tok := range []string{lotOp, unscoped} {
		if code, _ := call(t, app, tok, "POST", "/v1/parking/subscriptions", `{"lot":"hnp-cat-linh","plate":"29B1-123.45","subject":"vn_b","idempotency_key":"s"}`); code != 403 {
			t.Errorf("an operator buys a subscription for a rider: %d, want 403", code)
		}
	}
}

func setup(t *testing.T) (*fiber.App, *fakeStore, *authjwt.Issuer) {
	cat, err := parking.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStore{cat: cat, occ: map[string]parking.Occupancy{"hnp-cat-linh": {parking.Car: 40, parking.Motorbike: 10}}}
	now := func() time.Time { return time.Date(2026, 11, 24, 9, 0, 0, 0, parking.Zone) }
	is, err := authjwt.New([]byte(strings.Repeat("k", 32)), now)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	parkinghttp.Routes(parkinghttp.Config{Store: st, Now: now})(app.Group("/v1", is.Middleware(), accounthttp.UseAuditor(&st.audit, nil)))
	return app, st, is
}

func call(t *testing.T, app *fiber.App, tok, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(accounthttp.ReasonHeader, "rider complaint 12")
	resp, err := app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestLotsNearAndQuote(t *testing.T) {
	app, _, is := setup(t)
	rider, _ := is.Issue("vn_a", authjwt.RoleRider, time.Hour)

	code, body := call(t, app, rider, "GET", "/v1/parking/lots/hnp-cat-linh", "")
	car := body["classes"].(map[string]any)["car"].(map[string]any)
	if code != 200 || car["free"].(float64) != 0 || car["occupied"].(float64) != 40 {
		t.Fatalf("lot: %d %v", code, body)
	}
	// Cát Linh's cars are full: the nearest lot with car spaces is Ga Hà Nội.
	code, body = call(t, app, rider, "GET", "/v1/parking/near?lat=21.0288&lon=105.8262&class=car&radius_m=5000", "")
	lots := body["lots"].([]any)
	if code != 200 || len(lots) != 1 || lots[0].(map[string]any)["id"] != "hnp-ga-ha-noi" {
		t.Fatalf("near cars: %d %v", code, body)
	}
	code, body = call(t, app, rider, "GET", "/v1/parking/near?lat=21.0288&lon=105.8262", "")
	if lots := body["lots"].([]any); code != 200 || len(lots) != 2 || lots[0].(map[string]any)["id"] != "hnp-cat-linh" {
		t.Fatalf("near: %d %v", code, body)
	}
	code, body = call(t, app, rider, "GET", "/v1/parking/quote?lot=hnp-cat-linh&plate=30A-123.45&from=2026-11-24T07:00:00%2B07:00&to=2026-11-24T09:01:00%2B07:00", "")
	q := body["quote"].(map[string]any)
	if code != 200 || q["amount_vnd"].(float64) != 85000 || q["text"] != "85.000 ₫" || len(q["steps"].([]any)) != 2 {
		t.Fatalf("quote: %d %v", code, body)
	}
	for _, c := range []struct{ path, problem string }{
		{"/v1/parking/near?lat=91&lon=105", "bad-lat"},
		{"/v1/parking/near?lat=21&lon=x", "bad-lon"},
		{"/v1/parking/near?lat=21&lon=105&class=boat", "bad-class"},
		{"/v1/parking/quote?lot=nowhere&class=car", "bad-lot"},
		{"/v1/parking/quote?lot=hnp-cat-linh&plate=HELLO", "bad-plate"},
		{"/v1/parking/quote?lot=hnp-cat-linh&class=large", "bad-class"},
		{"/v1/parking/quote?lot=hnp-cat-linh&class=car&from=2026-11-24T09:00:00Z&to=2026-11-24T08:00:00Z", "bad-to"},
	} {
		if code, body := call(t, app, rider, "GET", c.path, ""); code != 400 || body["title"] != c.problem {
			t.Errorf("%s: %d %v, want 400 %s", c.path, code, body, c.problem)
		}
	}
	if code, _ := call(t, app, "", "GET", "/v1/parking/lots", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
}

func TestOverrideNamesTheAttendant(t *testing.T) {
	app, st, is := setup(t)
	att, _ := is.IssueFor("att-01", authjwt.RoleOperator, "hn-parking", time.Hour)
	rider, _ := is.Issue("vn_a", authjwt.RoleRider, time.Hour)
	body := `{"action":"exit","plate":"30A-123.45","reason":"reader down","idempotency_key":"k1","attendant":"someone-else"}`
	if code, _ := call(t, app, rider, "POST", "/v1/parking/lots/hnp-cat-linh/overrides", body); code != 403 {
		t.Fatalf("rider override: %d", code)
	}
	code, out := call(t, app, att, "POST", "/v1/parking/lots/hnp-cat-linh/overrides", body)
	if code != 201 || out["attendant"] != "att-01" || len(st.overrides) != 1 || st.overrides[0].Attendant != "att-01" || st.overrides[0].Role != "operator" {
		t.Fatalf("override: %d %v %+v", code, out, st.overrides)
	}
	if code, _ := call(t, app, att, "POST", "/v1/parking/lots/nowhere/overrides", body); code != 404 {
		t.Fatalf("unknown lot: %d", code)
	}
	// A rider buys for itself only.
	if code, _ := call(t, app, rider, "POST", "/v1/parking/subscriptions", `{"lot":"hnp-cat-linh","plate":"29B1-123.45","subject":"vn_b","idempotency_key":"s"}`); code != 403 {
		t.Fatalf("subscription for another rider: %d", code)
	}
	if code, out := call(t, app, rider, "POST", "/v1/parking/subscriptions", `{"lot":"hnp-cat-linh","plate":"29B1-123.45","idempotency_key":"s"}`); code != 201 || out["price_vnd"].(float64) != 120000 {
		t.Fatalf("subscription: %d %v", code, out)
	}
}
