package paysim

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/vnpass/vnpass/payment"
)

func TestHTTPHappyPath(t *testing.T) {
	s := newSim(t, Config{})
	key := map[string]string{HeaderIdempotencyKey: "link-1"}
	w, body := do(t, s, "POST", "/v1/links", testClientKey, key,
		`{"subject":"vn_abc","method":"bank","account":"0123 456 789","consent_version":"2026-01"}`)
	if w.Code != http.StatusCreated || body["masked"] != "•••• 6789" || body["provider"] != "paysim" {
		t.Fatalf("link: %d %v", w.Code, body)
	}
	token := body["token"].(string)
	w, again := do(t, s, "POST", "/v1/links", testClientKey, key,
		`{"subject":"vn_abc","method":"bank","account":"0123456789","consent_version":"2026-01"}`)
	if w.Code != http.StatusOK || w.Header().Get(HeaderReplayed) != "true" || again["token"] != token {
		t.Fatalf("link replay: %d %v", w.Code, again)
	}

	debit := `{"token":"` + token + `","amount_vnd":15000,"memo":"vnpass 24/11"}`
	w, res := do(t, s, "POST", "/v1/debits", testClientKey, map[string]string{HeaderIdempotencyKey: "d1"}, debit)
	if w.Code != http.StatusCreated || res["status"] != "approved" || res["amount_vnd"] != float64(15000) ||
		res["amount_text"] != "15.000 ₫" || res["key"] != "d1" || res["ref"] == "" {
		t.Fatalf("debit: %d %v", w.Code, res)
	}
	w, res2 := do(t, s, "POST", "/v1/debits", testClientKey, map[string]string{HeaderIdempotencyKey: "d1"}, debit)
	if w.Code != http.StatusOK || w.Header().Get(HeaderReplayed) != "true" || res2["ref"] != res["ref"] || res2["at"] != res["at"] {
		t.Fatalf("debit replay: %d %v", w.Code, res2)
	}

	w, rep := do(t, s, "GET", "/v1/settlements?date=2026-11-24", testClientKey, nil, "")
	if w.Code != http.StatusOK || rep["count"] != float64(1) || rep["total_vnd"] != float64(15000) || rep["total_text"] != "15.000 ₫" {
		t.Fatalf("settlements: %d %v", w.Code, rep)
	}

	w, src := do(t, s, "PUT", "/v1/admin/sources/bank/0123456789", testAdminKey, nil, `{"balance_vnd":0}`)
	if w.Code != http.StatusOK || src["balance_vnd"] != float64(0) || src["behaviour"] != "approve" || src["active_links"] != float64(1) {
		t.Fatalf("admin set: %d %v", w.Code, src)
	}
	w, res = do(t, s, "POST", "/v1/debits", testClientKey, map[string]string{HeaderIdempotencyKey: "d2"}, debit)
	if w.Code != http.StatusCreated || res["status"] != "declined" || res["decline_code"] != "insufficient_funds" {
		t.Fatalf("debit of an empty account: %d %v", w.Code, res)
	}
	w, src = do(t, s, "PUT", "/v1/admin/sources/bank/0123456789", testAdminKey, nil, `{"balance_vnd":500000,"behaviour":"approve"}`)
	if w.Code != http.StatusOK || src["balance_text"] != "500.000 ₫" {
		t.Fatalf("admin top-up: %d %v", w.Code, src)
	}
	w, res = do(t, s, "POST", "/v1/debits", testClientKey, map[string]string{HeaderIdempotencyKey: "d3"}, debit)
	if w.Code != http.StatusCreated || res["status"] != "approved" {
		t.Fatalf("debit after top-up: %d %v", w.Code, res)
	}
	w, src = do(t, s, "GET", "/v1/admin/sources/bank/0123-456-789", testAdminKey, nil, "")
	if w.Code != http.StatusOK || src["balance_vnd"] != float64(485000) {
		t.Fatalf("admin get: %d %v", w.Code, src)
	}

	if w, _ := do(t, s, "DELETE", "/v1/links/"+token, testClientKey, nil, ""); w.Code != http.StatusNoContent {
		t.Fatalf("unlink: %d", w.Code)
	}
	w, res = do(t, s, "POST", "/v1/debits", testClientKey, map[string]string{HeaderIdempotencyKey: "d4"}, debit)
	if w.Code != http.StatusCreated || res["decline_code"] != "account_unlinked" {
		t.Fatalf("debit after unlink: %d %v", w.Code, res)
	}

	w, _ = do(t, s, "GET", "/healthz", "", nil, "")
	if w.Code != http.StatusOK {
		t.Fatalf("healthz: %d", w.Code)
	}
	w, _ = do(t, s, "GET", "/metrics", "", nil, "")
	for _, want := range []string{
		`paysim_debits_total{status="approved"} 2`,
		`paysim_debits_total{status="declined"} 2`,
		`paysim_debit_replays_total 1`,
		`paysim_approved_vnd_total 30000`,
		`paysim_requests_total{route="/v1/debits",code="201"} 4`,
	} {
		if !strings.Contains(w.Body.String(), want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, w.Body.String())
		}
	}
}

// Every malformed request gets a 4xx problem naming what to fix, is counted,
// and leaves the simulator answering.
func TestHTTPMalformed(t *testing.T) {
	s := newSim(t, Config{})
	l := mustLink(t, s, "l", payment.Bank, "9704000000001")
	good := `{"token":"` + l.Token + `","amount_vnd":15000}`
	linkBody := func(subject, method, account, consent string) string {
		return `{"subject":"` + subject + `","method":"` + method + `","account":"` + account + `","consent_version":"` + consent + `"}`
	}
	k := func(key string) map[string]string { return map[string]string{HeaderIdempotencyKey: key} }
	tests := []struct {
		name         string
		method, path string
		auth         string
		hdr          map[string]string
		body         string
		status       int
		problem      string
		field        string
	}{
		{"no key", "POST", "/v1/debits", "", k("x"), good, 401, "unauthorized", ""},
		{"wrong key", "POST", "/v1/debits", "not-the-client-key-at-all", k("x"), good, 401, "unauthorized", ""},
		{"admin with client key", "GET", "/v1/admin/sources/bank/9704000000001", testClientKey, nil, "", 401, "unauthorized", ""},
		{"client API with admin key", "POST", "/v1/debits", testAdminKey, k("x"), good, 401, "unauthorized", ""},
		{"unknown path", "GET", "/v1/refunds", testClientKey, nil, "", 404, "not-found", ""},
		{"wrong method", "GET", "/v1/debits", testClientKey, nil, "", 405, "method-not-allowed", ""},
		{"no idempotency key", "POST", "/v1/debits", testClientKey, nil, good, 400, "invalid-field", HeaderIdempotencyKey},
		{"key with space", "POST", "/v1/debits", testClientKey, k("a b"), good, 400, "invalid-field", HeaderIdempotencyKey},
		{"key too long", "POST", "/v1/debits", testClientKey, k(strings.Repeat("k", 101)), good, 400, "invalid-field", HeaderIdempotencyKey},
		{"not JSON", "POST", "/v1/debits", testClientKey, k("x"), `token=abc`, 400, "bad-json", ""},
		{"empty body", "POST", "/v1/debits", testClientKey, k("x"), ``, 400, "bad-json", ""},
		{"JSON array", "POST", "/v1/debits", testClientKey, k("x"), `[1,2]`, 400, "bad-json", ""},
		{"unknown field", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"t","amount_vnd":1,"currency":"USD"}`, 400, "bad-json", ""},
		{"trailing data", "POST", "/v1/debits", testClientKey, k("x"), good + `{}`, 400, "bad-json", ""},
		{"token not a string", "POST", "/v1/debits", testClientKey, k("x"), `{"token":7,"amount_vnd":1}`, 400, "bad-json", ""},
		{"wrong media type", "POST", "/v1/debits", testClientKey, map[string]string{HeaderIdempotencyKey: "x", "Content-Type": "text/plain"}, good, 415, "unsupported-media-type", ""},
		{"body too large", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"` + strings.Repeat("t", maxBody) + `"}`, 413, "body-too-large", ""},
		{"no token", "POST", "/v1/debits", testClientKey, k("x"), `{"amount_vnd":1}`, 400, "invalid-field", "token"},
		{"unknown token", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"pt_nobody","amount_vnd":1}`, 404, "unknown-token", "token"},
		{"no amount", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"` + l.Token + `"}`, 400, "invalid-field", "amount_vnd"},
		{"fractional amount", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"` + l.Token + `","amount_vnd":15000.5}`, 400, "invalid-field", "amount_vnd"},
		{"exponent amount", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"` + l.Token + `","amount_vnd":1.5e4}`, 400, "invalid-field", "amount_vnd"},
		{"string amount", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"` + l.Token + `","amount_vnd":"15000"}`, 400, "invalid-field", "amount_vnd"},
		{"null amount", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"` + l.Token + `","amount_vnd":null}`, 400, "invalid-field", "amount_vnd"},
		{"zero amount", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"` + l.Token + `","amount_vnd":0}`, 400, "invalid-field", "amount_vnd"},
		{"negative amount", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"` + l.Token + `","amount_vnd":-15000}`, 400, "invalid-field", "amount_vnd"},
		{"huge amount", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"` + l.Token + `","amount_vnd":99999999999999999999999}`, 400, "invalid-field", "amount_vnd"},
		{"amount over limit", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"` + l.Token + `","amount_vnd":1000000001}`, 400, "invalid-field", "amount_vnd"},
		{"memo with newline", "POST", "/v1/debits", testClientKey, k("x"), `{"token":"` + l.Token + `","amount_vnd":1,"memo":"a\nb"}`, 400, "invalid-field", "memo"},
		{"CCCD as subject", "POST", "/v1/links", testClientKey, k("y"), linkBody("001090012345", "bank", "0123456789", "v1"), 400, "invalid-field", "subject"},
		{"bad method", "POST", "/v1/links", testClientKey, k("y"), linkBody("vn_a", "card", "4111111111111111", "v1"), 400, "invalid-field", "method"},
		{"bad account", "POST", "/v1/links", testClientKey, k("y"), linkBody("vn_a", "bank", "12ab", "v1"), 400, "invalid-field", "account"},
		{"bad wallet", "POST", "/v1/links", testClientKey, k("y"), linkBody("vn_a", "ewallet", "123", "v1"), 400, "invalid-field", "account"},
		{"no consent", "POST", "/v1/links", testClientKey, k("y"), linkBody("vn_a", "bank", "0123456789", ""), 400, "invalid-field", "consent_version"},
		{"unlink unknown", "DELETE", "/v1/links/pt_nobody", testClientKey, nil, "", 404, "unknown-token", "token"},
		{"no date", "GET", "/v1/settlements", testClientKey, nil, "", 400, "invalid-field", "date"},
		{"bad date", "GET", "/v1/settlements?date=24/11/2026", testClientKey, nil, "", 400, "invalid-field", "date"},
		{"admin bad method", "GET", "/v1/admin/sources/card/9704000000001", testAdminKey, nil, "", 400, "invalid-field", "method"},
		{"admin unknown source", "GET", "/v1/admin/sources/bank/9704999999999", testAdminKey, nil, "", 404, "unknown-source", ""},
		{"admin bad behaviour", "PUT", "/v1/admin/sources/bank/9704000000001", testAdminKey, nil, `{"behaviour":"explode"}`, 400, "invalid-field", "behaviour"},
		{"admin negative balance", "PUT", "/v1/admin/sources/bank/9704000000001", testAdminKey, nil, `{"balance_vnd":-1}`, 400, "invalid-field", "balance_vnd"},
		{"admin fractional balance", "PUT", "/v1/admin/sources/bank/9704000000001", testAdminKey, nil, `{"balance_vnd":1.5}`, 400, "invalid-field", "balance_vnd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Counter(`paysim_problems_total{type="` + tt.problem + `"}`)
			w, p := do(t, s, tt.method, tt.path, tt.auth, tt.hdr, tt.body)
			if w.Code != tt.status || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d (%s), want %d problem: %s", w.Code, w.Header().Get("Content-Type"), tt.status, w.Body)
			}
			if p["type"] != ProblemBase+tt.problem || p["title"] != tt.problem || p["status"] != float64(tt.status) || p["detail"] == "" {
				t.Fatalf("problem = %v, want %s", p, tt.problem)
			}
			if f, _ := p["field"].(string); f != tt.field {
				t.Fatalf("field = %q, want %q (%v)", f, tt.field, p)
			}
			if strings.Contains(w.Body.String(), "9704000000001") || strings.Contains(w.Body.String(), "001090012345") {
				t.Fatalf("problem echoes an account or id number: %s", w.Body)
			}
			if got := s.Counter(`paysim_problems_total{type="` + tt.problem + `"}`); got != before+1 {
				t.Fatalf("problem counter %d -> %d", before, got)
			}
		})
	}
	// The same key for another amount is a conflict.
	if w, _ := do(t, s, "POST", "/v1/debits", testClientKey, k("c"), good); w.Code != http.StatusCreated {
		t.Fatalf("debit: %d", w.Code)
	}
	w, p := do(t, s, "POST", "/v1/debits", testClientKey, k("c"), `{"token":"`+l.Token+`","amount_vnd":15001}`)
	if w.Code != http.StatusConflict || p["title"] != "idempotency-key-reused" {
		t.Fatalf("conflict: %d %v", w.Code, p)
	}
	// Nothing moved but the one debit; the simulator still answers.
	if got := balance(t, s, payment.Bank, "9704000000001"); !got.Equal(dong(10_000_000 - 15_000)) {
		t.Fatalf("balance = %s", got)
	}
	if w, _ := do(t, s, "GET", "/healthz", "", nil, ""); w.Code != http.StatusOK {
		t.Fatalf("healthz after abuse: %d", w.Code)
	}
	if got := s.Counter(`paysim_panics_total`); got != 0 {
		t.Fatalf("panics = %d", got)
	}
}

// Arbitrary bodies never crash the simulator nor get a 5xx.
func FuzzDebitBody(f *testing.F) {
	for _, seed := range []string{`{"token":"pt_x","amount_vnd":1}`, `{"amount_vnd":1e400}`, `{"token":"\u0000"}`, `nul`, `{"memo":"\xff"}`, `{}`} {
		f.Add(seed, "k")
	}
	s := newSim(f, Config{})
	l := mustLink(f, s, "l", payment.Bank, "9704000000001")
	f.Fuzz(func(t *testing.T, body, key string) {
		body = strings.ReplaceAll(body, "TOKEN", l.Token)
		w, _ := do(t, s, "POST", "/v1/debits", testClientKey, map[string]string{HeaderIdempotencyKey: key}, body)
		if w.Code >= 500 {
			t.Fatalf("%q: status %d: %s", body, w.Code, w.Body)
		}
		if _, err := s.Source(context.Background(), payment.Bank, "9704000000001"); err != nil {
			t.Fatal(err)
		}
	})
}
