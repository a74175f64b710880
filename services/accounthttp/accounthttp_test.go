package accounthttp_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/services/accounthttp"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/settlepg"
)

type api struct {
	t      *testing.T
	app    *fiber.App
	is     *authjwt.Issuer
	store  *settlepg.Store
	reason string // sent as X-Access-Reason when not empty
}

// scoped is an operator's token naming its operator.
func (a *api) scoped(sub, operator string) string {
	tok, err := a.is.IssueFor(sub, authjwt.RoleOperator, operator, time.Hour)
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

func newAPI(t *testing.T) *api {
	s, err := settlepg.Open(context.Background(), testenv.PostgresURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	is, err := authjwt.New([]byte(strings.Repeat("k", 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	fares, err := fare.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	return &api{t: t, app: accounthttp.New(accounthttp.Config{Accounts: s, Auth: is, Passes: fares, PassStore: s, Audit: s, AuditLog: s}),
		is: is, store: s, reason: "support ticket #1"}
}

func (a *api) token(sub string, role authjwt.Role) string {
	tok, err := a.is.Issue(sub, role, time.Hour)
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

func (a *api) do(method, path, token, body string) (int, map[string]any, http.Header) {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if a.reason != "" {
		req.Header.Set(accounthttp.ReasonHeader, a.reason)
	}
	resp, err := a.app.Test(req, 5000)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, out, resp.Header
}

func TestTopUpAndRead(t *testing.T) {
	a := newAPI(t)
	admin := a.token("ops", authjwt.RoleAdmin)
	if code, _, _ := a.do("POST", "/v1/accounts", admin, `{"subject":"vn_an"}`); code != 201 {
		t.Fatalf("link: %d", code)
	}
	code, body, _ := a.do("POST", "/v1/accounts/vn_an/topups", admin, `{"amount_vnd":150000,"idempotency_key":"pay-1"}`)
	if code != 201 || body["balance_vnd"] != float64(150000) || body["balance_text"] != "150.000 ₫" {
		t.Fatalf("top-up: %d %v", code, body)
	}
	// The same request again moves nothing.
	code, body, _ = a.do("POST", "/v1/accounts/vn_an/topups", admin, `{"amount_vnd":150000,"idempotency_key":"pay-1"}`)
	if code != 200 || body["balance_vnd"] != float64(150000) {
		t.Fatalf("repeated top-up: %d %v", code, body)
	}
	// The same key for another amount is a client bug, not a repeat.
	code, body, _ = a.do("POST", "/v1/accounts/vn_an/topups", admin, `{"amount_vnd":200000,"idempotency_key":"pay-1"}`)
	if code != 409 {
		t.Fatalf("reused key: %d %v", code, body)
	}
	code, body, _ = a.do("GET", "/v1/accounts/vn_an", a.token("vn_an", authjwt.RoleRider), "")
	if code != 200 || body["balance_vnd"] != float64(150000) || body["status"] != "active" {
		t.Fatalf("rider reads own account: %d %v", code, body)
	}
}

// Who may do what: role x endpoint x whose account.
func TestAuthorization(t *testing.T) {
	a := newAPI(t)
	admin := a.token("ops", authjwt.RoleAdmin)
	a.do("POST", "/v1/accounts", admin, `{"subject":"vn_an"}`)
	other, err := authjwt.New([]byte(strings.Repeat("x", 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Issue("ops", authjwt.RoleAdmin, time.Hour)
	expired, _ := a.is.Issue("ops", authjwt.RoleAdmin, -time.Minute)
	topup := `{"amount_vnd":50000,"idempotency_key":"k"}`
	for _, c := range []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"no token", "GET", "/v1/accounts/vn_an", "", "", 401},
		{"forged token", "GET", "/v1/accounts/vn_an", forged, "", 401},
		{"expired token", "GET", "/v1/accounts/vn_an", expired, "", 401},
		{"alg none", "GET", "/v1/accounts/vn_an", "eyJhbGciOiJub25lIn0.eyJyb2xlIjoiYWRtaW4iLCJpc3MiOiJ2bnBhc3MifQ.", "", 401},
		{"operator reads", "GET", "/v1/accounts/vn_an", a.token("hanoi-metro", authjwt.RoleOperator), "", 403},
		{"scoped operator reads", "GET", "/v1/accounts/vn_an", a.scoped("lan", "hanoi-metro"), "", 403},
		{"rider reads another", "GET", "/v1/accounts/vn_an", a.token("vn_binh", authjwt.RoleRider), "", 403},
		{"rider tops up", "POST", "/v1/accounts/vn_an/topups", a.token("vn_an", authjwt.RoleRider), topup, 403},
		{"operator tops up", "POST", "/v1/accounts/vn_an/topups", a.token("o", authjwt.RoleOperator), topup, 403},
		{"rider links another", "POST", "/v1/accounts", a.token("vn_an", authjwt.RoleRider), `{"subject":"vn_binh"}`, 403},
		{"rider links self", "POST", "/v1/accounts", a.token("vn_binh", authjwt.RoleRider), `{"subject":"vn_binh"}`, 201},
		{"unknown account", "GET", "/v1/accounts/vn_nobody", admin, "", 404},
		{"top-up unknown", "POST", "/v1/accounts/vn_nobody/topups", admin, topup, 404},
		{"bad subject", "GET", "/v1/accounts/vn%20an", admin, "", 400},
		{"amount too small", "POST", "/v1/accounts/vn_an/topups", admin, `{"amount_vnd":500,"idempotency_key":"k"}`, 400},
		{"amount not a number", "POST", "/v1/accounts/vn_an/topups", admin, `{"amount_vnd":"lots","idempotency_key":"k"}`, 400},
		{"no idempotency key", "POST", "/v1/accounts/vn_an/topups", admin, `{"amount_vnd":50000}`, 400},
		{"not json", "POST", "/v1/accounts/vn_an/topups", admin, `amount=5`, 400},
	} {
		code, body, h := a.do(c.method, c.path, c.token, c.body)
		if code != c.want {
			t.Errorf("%s: %d, want %d (%v)", c.name, code, c.want, body)
		}
		if code >= 400 {
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") || body["status"] != float64(code) || body["detail"] == "" {
				t.Errorf("%s: not an RFC 7807 problem: %s %v", c.name, ct, body)
			}
		}
	}
}

func TestBuyPass(t *testing.T) {
	a := newAPI(t)
	admin := a.token("ops", authjwt.RoleAdmin)
	rider := a.token("vn_an", authjwt.RoleRider)
	a.do("POST", "/v1/accounts", admin, `{"subject":"vn_an"}`)
	a.do("POST", "/v1/accounts/vn_an/topups", admin, `{"amount_vnd":250000,"idempotency_key":"t1"}`)
	code, body, _ := a.do("POST", "/v1/accounts/vn_an/passes", rider, `{"product_id":"hn2a-month","idempotency_key":"p1"}`)
	if code != 201 || body["price_vnd"] != float64(200000) || body["price_text"] != "200.000 ₫" || body["category"] != "adult" {
		t.Fatalf("buy: %d %v", code, body)
	}
	if !strings.HasSuffix(body["valid_until"].(string), "T00:00:00+07:00") {
		t.Errorf("a month pass ends at local midnight: %v", body["valid_until"])
	}
	if code, _, _ := a.do("POST", "/v1/accounts/vn_an/passes", rider, `{"product_id":"hn2a-month","idempotency_key":"p1"}`); code != 200 {
		t.Errorf("repeat: %d", code)
	}
	_, acct, _ := a.do("GET", "/v1/accounts/vn_an", admin, "")
	if acct["balance_vnd"] != float64(50000) {
		t.Errorf("balance after the pass %v", acct["balance_vnd"])
	}
	for _, c := range []struct {
		name, token, body string
		want              int
	}{
		{"concession by the rider", rider, `{"product_id":"hn2a-month","category":"student","idempotency_key":"p2"}`, 403},
		{"beyond the balance", rider, `{"product_id":"hn3-month","idempotency_key":"p3"}`, 409},
		{"no such pass", rider, `{"product_id":"hn2a-year","idempotency_key":"p4"}`, 400},
		{"reused key", rider, `{"product_id":"hn2a-day","idempotency_key":"p1"}`, 409},
		{"another rider", a.token("vn_binh", authjwt.RoleRider), `{"product_id":"hn2a-day","idempotency_key":"p5"}`, 403},
		{"student by an admin", admin, `{"product_id":"hn3-month","category":"student","idempotency_key":"p6"}`, 409}, // 100.000 > 50.000
		{"day pass", rider, `{"product_id":"hn2a-day","idempotency_key":"p7"}`, 201},
	} {
		code, body, _ := a.do("POST", "/v1/accounts/vn_an/passes", c.token, c.body)
		if code != c.want {
			t.Errorf("%s: %d %v, want %d", c.name, code, body, c.want)
		}
	}
}
