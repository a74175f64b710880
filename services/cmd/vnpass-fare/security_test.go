package main

import (
	"bytes"
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
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/partnerhttp"
	"github.com/vnpass/vnpass/services/paysim"
	"github.com/vnpass/vnpass/services/settlepg"
	"github.com/vnpass/vnpass/services/vneidsim"
)

// Security tests of the fare service as a whole (SECURITY.md): who may call
// which endpoint, what an error tells, what the logs keep.

// logBuffer keeps every slog line the service writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startLoggedPlatform is startPlatform with every log line (debug level
// included) captured.
func startLoggedPlatform(t *testing.T) (*platform, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	p := preparePlatform(t)
	// With a payment provider, so that the post-paid routes are served.
	const payKey = "paysim-client-key-0123456789abcdef"
	sim, err := paysim.New(paysim.Config{Name: "paysim", ClientKey: payKey})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sim.Serve(ln)
	t.Cleanup(func() { sim.Close() })
	p.cfg.PayURL, p.cfg.PayClientKey, p.cfg.PayProvider = "http://"+ln.Addr().String(), payKey, "paysim"
	p.main = &Main{Config: p.cfg, Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := p.main.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.main.Close() })
	p.apiURL = "http://" + p.main.APIAddr()
	if p.token, err = p.main.Auth.Issue("e2e-admin", authjwt.RoleAdmin, time.Hour); err != nil {
		t.Fatal(err)
	}
	return p, logs
}

// Access classes of the authorization matrix.
const (
	azPublic = "public" // 2xx with or without a token
	azOK     = "ok"     // the caller is let past authorization: any status below 500 but 401 and 403
	azUnauth = "401"    // no or an invalid token
	azDenied = "403"    // authenticated, not allowed
	azHidden = "404"    // another rider's resource: answered as if it did not exist (403 accepted too)
)

// Staff tokens: "operator" names no operator (tokens issued before the
// operator claim: nothing operator-scoped opens to it); "opA" is Hanoi
// Metro's staff (Line 2A, rider A's journey and dispute are on it), "opB"
// HURC1's (HCMC Line 1: none of rider A's), "opPark" the Hanoi parking
// operator's (lots hnp-*), "committee" Hanoi People's Committee's (exports of
// its city, nothing else). Staff requests carry X-Access-Reason, so that
// the matrix tests the scope; TestAuthorizationMatrix checks the reason and
// the audit after.
var azRoles = []string{"none", "riderA", "riderB", "operator", "opA", "opB", "opPark", "admin", "partner", "committee", "service"}

// row gives the class per role in the order of roles.
func azRow(classes ...string) map[string]string {
	m := map[string]string{}
	for i, r := range azRoles {
		m[r] = classes[i]
	}
	return m
}

// none      riderA    riderB    operator  opA       opB       opPark    admin     partner   committee service
var (
	adminOnly    = azRow(azUnauth, azDenied, azDenied, azDenied, azDenied, azDenied, azDenied, azOK, azUnauth, azDenied, azDenied)
	anyPlatform  = azRow(azUnauth, azOK, azOK, azOK, azOK, azOK, azOK, azOK, azUnauth, azDenied, azDenied) // a committee token opens exports only
	riderOnly    = azRow(azUnauth, azOK, azOK, azDenied, azDenied, azDenied, azDenied, azDenied, azUnauth, azDenied, azDenied)
	riderAOnly   = azRow(azUnauth, azOK, azDenied, azDenied, azDenied, azDenied, azDenied, azDenied, azUnauth, azDenied, azDenied)
	ownOrAdmin   = azRow(azUnauth, azOK, azDenied, azDenied, azDenied, azDenied, azDenied, azOK, azUnauth, azDenied, azDenied) // riderA's account: operators never read it by subject
	riderAAdmin  = azRow(azUnauth, azOK, azDenied, azDenied, azDenied, azDenied, azDenied, azOK, azUnauth, azDenied, azDenied)
	scopedStaff  = azRow(azUnauth, azDenied, azDenied, azDenied, azOK, azOK, azOK, azOK, azUnauth, azDenied, azDenied) // answers filtered to the operator
	fleetStaff   = azRow(azUnauth, azDenied, azDenied, azOK, azOK, azOK, azOK, azOK, azUnauth, azDenied, azOK)         // staff, and the fleet service token (RoleService)
	journeyRead  = azRow(azUnauth, azOK, azHidden, azDenied, azOK, azHidden, azHidden, azOK, azUnauth, azDenied, azDenied)
	journeyStaff = azRow(azUnauth, azDenied, azDenied, azDenied, azOK, azHidden, azHidden, azOK, azUnauth, azDenied, azDenied)
	disputeRead  = azRow(azUnauth, azOK, azHidden, azDenied, azOK, azHidden, azHidden, azOK, azUnauth, azDenied, azDenied)
	disputeStaff = azRow(azUnauth, azDenied, azDenied, azDenied, azOK, azHidden, azHidden, azOK, azUnauth, azDenied, azDenied)
	lotStaff     = azRow(azUnauth, azDenied, azDenied, azDenied, azHidden, azHidden, azOK, azOK, azUnauth, azDenied, azDenied)
	sessionRead  = azRow(azUnauth, azHidden, azHidden, azDenied, azHidden, azHidden, azOK, azOK, azUnauth, azDenied, azDenied)
	buyForRider  = azRow(azUnauth, azOK, azOK, azDenied, azDenied, azDenied, azDenied, azOK, azUnauth, azDenied, azDenied)
	partnerScope = azRow(azUnauth, azUnauth, azUnauth, azUnauth, azUnauth, azUnauth, azUnauth, azUnauth, azOK, azUnauth, azUnauth)
	riderPartner = azRow(azUnauth, azOK, azOK, azDenied, azDenied, azDenied, azDenied, azDenied, azUnauth, azDenied, azDenied) // /partner/v1/me: platform rider tokens
	adminPartner = adminOnly
	exports      = azRow(azUnauth, azDenied, azDenied, azDenied, azDenied, azDenied, azDenied, azOK, azUnauth, azOK, azDenied) // committees: their city's
	public       = azRow(azPublic, azPublic, azPublic, azPublic, azPublic, azPublic, azPublic, azPublic, azPublic, azPublic, azPublic)
)

// authzMatrix is every endpoint the fare service serves, with who may call
// it. A new route without an entry fails TestAuthorizationMatrix: decide
// who may call it, here, before it ships.
//
// Path parameters: :subject is rider A's subject, :id rider A's journey on
// Line 2A (Hanoi Metro), under /v1/disputes rider A's dispute of it, under
// /v1/parking/sessions a session that does not exist (a permitted caller
// gets 404, still "ok"; parkinghttp's TestSessionsScopedToTheLotOperator
// holds the lot scope of sessions), :lot a Hanoi parking lot, :rider_ref rider A's reference
// for the test partner, who holds rider A's consent to every scope;
// :partner_id a partner nobody consented to (the consent routes are then
// let through and answer 404).
var authzMatrix = map[string]map[string]string{
	"GET /healthz":                 public,
	"GET /metrics":                 public, // counters only; no rider data (see SECURITY.md)
	"GET /rider/":                  public,
	"GET /rider/app.css":           public,
	"GET /rider/app.js":            public,
	"GET /partner/v1/openapi.json": public,

	"POST /v1/accounts":                        riderAAdmin,
	"GET /v1/accounts/:subject":                ownOrAdmin,
	"POST /v1/accounts/:subject/topups":        adminOnly,
	"POST /v1/accounts/:subject/passes":        riderAAdmin,
	"GET /v1/accounts/:subject/history":        ownOrAdmin,
	"PUT /v1/accounts/:subject/status":         adminOnly,
	"GET /v1/accounts/:subject/funding":        ownOrAdmin,
	"POST /v1/accounts/:subject/funding":       riderAOnly,
	"DELETE /v1/accounts/:subject/funding":     riderAOnly,
	"POST /v1/accounts/:subject/debt/payments": riderAOnly,
	"POST /v1/collections/runs":                adminOnly,
	"GET /v1/audit":                            adminOnly,
	// Erasure on request (both riders hold a balance: a permitted call is
	// refused 409, "ok"; TestErasureOnRequest erases).
	"POST /v1/me/erasure":                riderOnly,
	"POST /v1/accounts/:subject/erasure": adminOnly,

	"GET /v1/fares/quote":               anyPlatform,
	"GET /v1/journeys/:id/explanation":  journeyRead,
	"POST /v1/journeys/:id/refunds":     journeyStaff,
	"POST /v1/journeys/:id/corrections": journeyStaff,
	"GET /v1/clearing":                  scopedStaff,
	"GET /v1/reconciliation":            adminOnly,
	"GET /v1/deny-list":                 fleetStaff,
	"GET /v1/rail/tickets":              fleetStaff,

	"GET /v1/parking/lots":                 anyPlatform,
	"GET /v1/parking/lots/:lot":            anyPlatform,
	"GET /v1/parking/near":                 anyPlatform,
	"GET /v1/parking/quote":                anyPlatform,
	"POST /v1/parking/subscriptions":       buyForRider,
	"POST /v1/parking/lots/:lot/overrides": lotStaff,
	"GET /v1/parking/sessions/:id":         sessionRead,

	"GET /v1/me":                       riderOnly,
	"GET /v1/me/journeys":              riderOnly,
	"GET /v1/me/parking":               riderOnly,
	"GET /v1/me/history":               riderOnly,
	"GET /v1/me/statements/:month":     riderOnly,
	"GET /v1/me/disputes":              riderOnly,
	"POST /v1/me/disputes":             riderOnly,
	"GET /v1/disputes":                 scopedStaff,
	"GET /v1/disputes/:id":             disputeRead,
	"POST /v1/disputes/:id/resolution": disputeStaff,

	// The operators' dashboard (scoped to the operator's lines and lots)
	// and the committees' exports (committee tokens, city-scoped).
	"GET /dashboard":             public,
	"GET /dashboard/app.css":     public,
	"GET /dashboard/app.js":      public,
	"GET /v1/dashboard/scope":    scopedStaff,
	"GET /v1/dashboard/stations": scopedStaff,
	"GET /v1/dashboard/od":       scopedStaff,
	"GET /v1/dashboard/revenue":  scopedStaff,
	"GET /v1/dashboard/parking":  scopedStaff,
	"GET /v1/dashboard/devices":  scopedStaff,
	"GET /v1/dashboard/disputes": scopedStaff,
	"GET /v1/exports/:file":      exports,

	"POST /partner/v1/admin/partners":                      adminPartner,
	"GET /partner/v1/me/consents":                          riderPartner,
	"PUT /partner/v1/me/consents/:partner_id":              riderPartner,
	"DELETE /partner/v1/me/consents/:partner_id":           riderPartner,
	"GET /partner/v1/me/access":                            riderPartner,
	"PUT /partner/v1/tickets/:ticket_id":                   partnerScope,
	"GET /partner/v1/tickets/:ticket_id":                   partnerScope,
	"DELETE /partner/v1/tickets/:ticket_id":                partnerScope,
	"GET /partner/v1/riders/:rider_ref/journeys":           partnerScope,
	"GET /partner/v1/riders/:rider_ref/charges":            partnerScope,
	"POST /partner/v1/riders/:rider_ref/passes":            partnerScope,
	"GET /partner/v1/riders/:rider_ref/passes":             partnerScope,
	"DELETE /partner/v1/riders/:rider_ref/passes/:pass_id": partnerScope,

	// Partner key rotation (admins).
	"POST /partner/v1/admin/partners/:partner_id/keys":        adminPartner,
	"DELETE /partner/v1/admin/partners/:partner_id/keys/:kid": adminPartner,
}

// leaks are what an error body must never contain.
var leaks = regexp.MustCompile(`(?i)sqlstate|pgx|postgres|clickhouse|select |insert |update .* set|goroutine |panic|\.go:\d+|runtime\.|duplicate key|violates|constraint`)

// TestAuthorizationMatrix: every role (no token, two riders, operator,
// admin, a partner's token) against every endpoint of the running fare
// service, walked from the fiber app itself; every answer is in the class
// the matrix gives, every error is an RFC 7807 problem that tells nothing
// of the internals nor of another rider. Tokens that are forged, expired,
// of another issuer or of another algorithm are refused everywhere a token
// is needed.
func TestAuthorizationMatrix(t *testing.T) {
	p, _ := startLoggedPlatform(t)
	subA, faceA := p.rider("001090011111")
	subB, _ := p.rider("001090022222")

	// One journey of rider A, for :id.
	in := p.rawGate("hn2a-cat-linh", "hn2a-cat-linh-in01")
	out := p.rawGate("hn2a-lang", "hn2a-lang-out01")
	wantReason(t, "entry", in.send(proto.KindMetroEntry, p.assertion(faceA, in.dev)), proto.ReasonOK)
	wantReason(t, "exit", out.send(proto.KindMetroExit, p.assertion(faceA, out.dev)), proto.ReasonOK)
	var journeyID string
	if err := p.main.Store.Pool().QueryRow(context.Background(),
		`SELECT id::text FROM journeys ORDER BY id LIMIT 1`).Scan(&journeyID); err != nil {
		t.Fatal(err)
	}

	// A partner with every scope.
	pubKey, priv, _ := ed25519.GenerateKey(rand.Reader)
	if code, reg := p.call("POST", "/partner/v1/admin/partners", p.token, partnerhttp.RegisterRequest{
		ID: "sec-partner", Name: "Security test partner", Kind: "ride", PublicKey: base64.RawURLEncoding.EncodeToString(pubKey),
		Scopes: []string{"tickets", "journeys:read", "charges:read", "passes"}, RatePerMin: 100000,
	}); code != 201 {
		t.Fatalf("register partner: %d %v", code, reg)
	}
	partnerTok := func() string {
		s, err := partnerhttp.SignPartnerToken(priv, "sec-partner",
			[]partner.Scope{partner.ScopeTickets, partner.ScopeJourneys, partner.ScopeCharges, partner.ScopePasses}, time.Now(), 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	riderATok, _ := p.main.Auth.Issue(subA, authjwt.RoleRider, time.Hour)
	// Rider A disputes the journey: a dispute on Hanoi Metro's line.
	code, disp := p.call("POST", "/v1/me/disputes", riderATok, map[string]any{"kind": "journey", "charge_id": json.Number(journeyID),
		"reason": "Tôi chỉ đi hai ga / I only rode two stations"})
	if code != 201 {
		t.Fatalf("dispute: %d %v", code, disp)
	}
	disputeID := fmt.Sprint(disp["id"])
	code, cons := p.call("PUT", "/partner/v1/me/consents/sec-partner", riderATok, partnerhttp.GrantRequest{
		Scopes: []string{"tickets", "journeys:read", "charges:read", "passes"}, ExpiresAt: time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
	})
	if code != 200 {
		t.Fatalf("consent: %d %v", code, cons)
	}
	refA, _ := cons["rider_ref"].(string)
	issue := func(sub string, r authjwt.Role) string {
		s, err := p.main.Auth.Issue(sub, r, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	operator := func(sub, op string) func() string {
		return func() string {
			s, err := p.main.Auth.IssueFor(sub, authjwt.RoleOperator, op, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	tokens := map[string]func() string{
		"none":     func() string { return "" },
		"riderA":   func() string { return issue(subA, authjwt.RoleRider) },
		"riderB":   func() string { return issue(subB, authjwt.RoleRider) },
		"operator": func() string { return issue("op-hn2a", authjwt.RoleOperator) },
		"opA":      operator("lan-hn2a", "hanoi-metro"),
		"opB":      operator("minh-hcm1", "hurc1"),
		"opPark":   operator("hoa-park", "hn-parking"),
		"admin":    func() string { return issue("admin-1", authjwt.RoleAdmin) },
		"partner":  partnerTok,
		"committee": func() string {
			s, err := p.main.Auth.IssueCommittee("ubnd-hanoi-1", "hanoi", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"service": func() string { return issue("vnpass-fleet", authjwt.RoleService) },
	}

	params := map[string]string{
		":subject": subA, ":id": journeyID, ":lot": "hnp-cat-linh", ":month": time.Now().Format("2006-01"),
		":file": "od_daily.csv?city=hanoi&from=2026-11-01&to=2026-11-02", ":partner_id": "no-such-partner", ":ticket_id": "T-SEC-1", ":rider_ref": refA, ":pass_id": "1",
	}
	fill := func(path string) string {
		parts := strings.Split(path, "/")
		for i, s := range parts {
			if v, ok := params[s]; ok {
				parts[i] = v
			}
			if s == ":id" && strings.HasPrefix(path, "/v1/disputes/") {
				parts[i] = disputeID
			}
			if s == ":id" && strings.HasPrefix(path, "/v1/parking/sessions/") {
				parts[i] = "987654"
			}
		}
		return strings.Join(parts, "/")
	}

	// Every route the app serves, and no entry without a route.
	served := map[string]bool{}
	for _, r := range p.main.app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		path := strings.TrimSuffix(r.Path, "/")
		if r.Path == "/rider/" {
			path = r.Path
		}
		served[r.Method+" "+path] = true
	}
	var keys []string
	for k := range served {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := authzMatrix[k]; !ok {
			t.Errorf("%s has no entry in authzMatrix: say who may call it", k)
		}
	}
	for k := range authzMatrix {
		if !served[k] {
			t.Errorf("authzMatrix lists %s, which the service does not serve", k)
		}
	}

	client := &http.Client{Timeout: 10 * time.Second}
	// Bodies that a handler would accept, where it checks the body before
	// the caller (or "{}").
	bodies := map[string]string{
		"POST /v1/accounts": `{"subject":"` + subA + `"}`,
	}
	const why = "Kiểm tra khiếu nại / dispute check"
	reason := url.QueryEscape(why)
	do := func(method, path, tok string) (int, http.Header, []byte) {
		body := io.Reader(nil)
		if method == "POST" || method == "PUT" {
			b, ok := bodies[method+" "+path]
			if !ok {
				b = "{}"
			}
			body = strings.NewReader(b)
		}
		req, _ := http.NewRequest(method, p.apiURL+path, body)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if reason != "" {
			req.Header.Set("X-Access-Reason", reason)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	checkProblem := func(what string, code int, h http.Header, b []byte, caller string) {
		t.Helper()
		if code < 400 {
			return
		}
		if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("%s: %d with Content-Type %q, want application/problem+json", what, code, ct)
		}
		var pr struct {
			Type   string `json:"type"`
			Title  string `json:"title"`
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(b, &pr); err != nil || pr.Type == "" || pr.Title == "" || pr.Status != code {
			t.Errorf("%s: %d body is not an RFC 7807 problem: %s", what, code, b)
		}
		if m := leaks.Find(b); m != nil {
			t.Errorf("%s: error body reveals internals (%q): %s", what, m, b)
		}
		if caller != "riderA" && bytes.Contains(b, []byte(subA)) {
			t.Errorf("%s: error body to %s names rider A's subject: %s", what, caller, b)
		}
	}

	for _, k := range keys {
		exp, listed := authzMatrix[k]
		if !listed {
			continue
		}
		method, path, _ := strings.Cut(k, " ")
		url := fill(path)
		for _, role := range azRoles {
			code, h, b := do(method, url, tokens[role]())
			what := role + " " + method + " " + url
			checkProblem(what, code, h, b, role)
			if (role == "riderB" || role == "opB" || role == "opPark") && bytes.Contains(b, []byte(subA)) {
				t.Errorf("%s: %s's answer names rider A's subject: %.300s", what, role, b)
			}
			good := false
			switch exp[role] {
			case azPublic:
				good = code >= 200 && code < 300
			case azOK:
				good = code < 500 && code != 401 && code != 403
			case azUnauth:
				good = code == 401
			case azDenied:
				good = code == 403
			case azHidden:
				good = code == 404 || code == 403
			}
			if !good {
				t.Errorf("%s: %d, want %s: %.300s", what, code, exp[role], b)
			}
		}
	}

	// Scope in the answers: HURC1's staff see no Line 2A dispute in their
	// queue nor Hanoi Metro's line of the clearing report.
	for _, c := range []struct{ role, path, must, mustNot string }{
		{"opA", "/v1/disputes", `"id":` + disputeID, ""},
		{"opB", "/v1/disputes", `"disputes":[]`, `"id":` + disputeID},
		{"opA", "/v1/clearing", `"operator":"hanoi-metro"`, `"operator":"hurc1"`},
		{"opB", "/v1/clearing", `"operators":[]`, `"operator":"hanoi-metro"`},
	} {
		code, _, b := do("GET", c.path, tokens[c.role]())
		if code != 200 || !bytes.Contains(b, []byte(c.must)) || (c.mustNot != "" && bytes.Contains(b, []byte(c.mustNot))) {
			t.Errorf("%s GET %s: %d %.400s; want %s and not %s", c.role, c.path, code, b, c.must, c.mustNot)
		}
	}

	// Every staff read above was audited with who, what, whose and why;
	// without a purpose a staff read of a rider's data is refused.
	entries, err := p.main.Store.AuditLog(context.Background(), settlepg.AuditFilter{Rider: subA, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]settlepg.AuditEntry{}
	for _, e := range entries {
		seen[e.Actor+" "+e.Action] = e
		if e.Reason != why || e.RequestID == "" {
			t.Errorf("audit entry without the purpose or request id: %+v", e)
		}
	}
	for _, want := range []string{"lan-hn2a journey.read", "lan-hn2a dispute.read", "admin-1 account.read", "admin-1 account.history.read",
		"admin-1 account.funding.read", "admin-1 journey.read", "admin-1 dispute.read"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("no audit entry %q for rider A among %d", want, len(entries))
		}
	}
	if e := seen["lan-hn2a journey.read"]; e.Role != "operator" || e.Operator != "hanoi-metro" || e.Resource != "/v1/journeys/"+journeyID+"/explanation" {
		t.Errorf("operator's audit entry %+v", e)
	}
	for k := range seen {
		if strings.HasPrefix(k, "minh-hcm1 ") || strings.HasPrefix(k, "hoa-park ") || strings.HasPrefix(k, "op-hn2a ") {
			t.Errorf("an access refused by scope was audited as a read of rider A: %s", k)
		}
	}
	reason = ""
	for _, c := range []struct{ role, path string }{
		{"opA", "/v1/journeys/" + journeyID + "/explanation"}, {"opA", "/v1/disputes/" + disputeID},
		{"admin", "/v1/accounts/" + subA}, {"admin", "/v1/accounts/" + subA + "/history"}, {"admin", "/v1/audit?rider=" + subA},
	} {
		code, h, b := do("GET", c.path, tokens[c.role]())
		checkProblem(c.role+" "+c.path+" without a purpose", code, h, b, c.role)
		if code != 400 || !bytes.Contains(b, []byte("reason-required")) || !bytes.Contains(b, []byte("X-Access-Reason")) {
			t.Errorf("%s GET %s without X-Access-Reason: %d %.300s, want 400 reason-required", c.role, c.path, code, b)
		}
	}
	if code, _, b := do("GET", "/v1/accounts/"+subA, tokens["riderA"]()); code != 200 {
		t.Errorf("rider A's own read needs no purpose: %d %.200s", code, b)
	}
	reason = url.QueryEscape(why)
	code, _, b := do("GET", "/v1/audit?rider="+subA, tokens["admin"]())
	if code != 200 || !bytes.Contains(b, []byte(`"action":"audit.read"`)) || !bytes.Contains(b, []byte(`"actor":"lan-hn2a"`)) {
		t.Errorf("the audit log as the admin reads it: %d %.400s", code, b)
	}

	// Tokens that must open nothing: each against a route every platform
	// token may call.
	now := time.Now()
	signKid := func(kid string, method jwt.SigningMethod, key any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Every bad token carries the service's key id, so that each is refused
	// for the fault it is named for, not for a missing kid.
	sign := func(method jwt.SigningMethod, key any, c jwt.MapClaims) string {
		return signKid(authjwt.DefaultKeyID, method, key, c)
	}
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "vnpass", "sub": "admin-x", "role": "admin", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	secret := []byte(p.cfg.APISecret)
	bad := map[string]string{
		"wrong secret":    sign(jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), claims(nil)),
		"alg none":        sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"HS384":           sign(jwt.SigningMethodHS384, secret, claims(nil)),
		"EdDSA":           sign(jwt.SigningMethodEdDSA, priv, claims(nil)),
		"expired":         sign(jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })),
		"no exp":          sign(jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"other issuer":    sign(jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["iss"] = "evil" })),
		"unknown role":    sign(jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["role"] = "superuser" })),
		"tampered role":   tamperRole(t, issue(subA, authjwt.RoleRider)),
		"partner token":   partnerTok(),
		"not a token":     "hello",
		"VNeID assertion": p.assertion(faceA, in.dev),
		"no kid":          signKid("", jwt.SigningMethodHS256, secret, claims(nil)),
		"unknown kid":     signKid("k9", jwt.SigningMethodHS256, secret, claims(nil)),
	}
	for name, tok := range bad {
		for _, path := range []string{"/v1/fares/quote?from=hn2a-cat-linh&to=hn2a-lang", "/v1/accounts/" + subA, "/partner/v1/me/consents"} {
			code, h, b := do("GET", path, tok)
			if code != 401 {
				t.Errorf("%s token on %s: %d, want 401: %.200s", name, path, code, b)
			}
			checkProblem(name+" "+path, code, h, b, "none")
		}
	}
}

// tamperRole rewrites a token's role claim to admin, keeping its signature.
func tamperRole(t *testing.T, tok string) string {
	parts := strings.Split(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	c["role"] = "admin"
	b, _ := json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// What counts as personal data in a log line (SECURITY.md, "Logs"):
// a CCCD-like number (12 digits in a row), a citizen's name, a face
// reference, a token (a VNeID assertion or a platform or partner JWT: three
// base64url parts starting "eyJ"), a rider's VNeID subject or a partner's
// rider reference in clear. Counts, reasons, device and station ids, event
// ids, journey and dispute ids and the operators' own ids are not personal
// data of riders and may be logged.
var (
	cccdLike = regexp.MustCompile(`(^|[^0-9])[0-9]{12}([^0-9]|$)`)
	jwtLike  = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.`)
)

// TestLogsCarryNoPersonalData runs the fare service through good and bad
// taps and API calls, capturing every log line at debug level, and fails on
// any personal data in them.
func TestLogsCarryNoPersonalData(t *testing.T) {
	p, logs := startLoggedPlatform(t)
	subA, faceA := p.rider("001090033333")
	subB, faceB := p.rider("001090044444")
	// Enrolled with VNeID, never linked to vnpass.
	stranger, _, err := p.idp.Enroll(context.Background(), vneidsim.Enrollment{CCCD: "079301055555", FullName: "Trần Minh Khôi", DateOfBirth: "1979-09-02"})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{subA, subB, stranger.Subject, faceA, faceB, stranger.FaceRef, "Lê Thị Hoa", "Trần Minh Khôi"}

	in := p.rawGate("hn2a-cat-linh", "hn2a-cat-linh-in01")
	out := p.rawGate("hn2a-ha-dong", "hn2a-ha-dong-out01")
	entry := p.assertion(faceA, in.dev)
	secrets = append(secrets, entry)
	wantReason(t, "entry", in.send(proto.KindMetroEntry, entry), proto.ReasonOK)
	wantReason(t, "replay", in.send(proto.KindMetroEntry, entry), proto.ReasonAssertionReplayed)
	wantReason(t, "exit", out.send(proto.KindMetroExit, p.assertion(faceA, out.dev)), proto.ReasonOK)
	forged := forge(t, p.idp.SigningKID(), subB, in.dev)
	secrets = append(secrets, forged)
	wantReason(t, "forged", in.send(proto.KindMetroEntry, forged), proto.ReasonAssertionInvalid)
	wantReason(t, "wrong device", in.send(proto.KindMetroEntry, p.assertion(faceB, "hn2a-lang-in01")), proto.ReasonAssertionWrongDevice)
	d := in.send(proto.KindMetroEntry, p.assertion(stranger.FaceRef, in.dev))
	if d.Open {
		t.Errorf("a rider with no account was let in: %+v", d)
	}
	// Malformed taps, some carrying personal data where an id belongs: a
	// broken or compromised gate's bytes must not reach the logs either.
	junkTap := func(edit func(map[string]any)) string {
		tp, _ := in.tap(proto.KindMetroEntry, entry)
		b, _ := tp.Encode()
		var m map[string]any
		json.Unmarshal(b, &m)
		edit(m)
		b, _ = json.Marshal(m)
		return string(b)
	}
	for _, junk := range []string{"{", `{"v":1,"assertion":"` + entry + `"}`, strings.Repeat("x", 20000),
		junkTap(func(m map[string]any) { m["device"] = "Lê Thị Hoa" }),
		junkTap(func(m map[string]any) { m["site"] = "cccd 001090033333" }),
		junkTap(func(m map[string]any) { m["kind"] = subA }),
		junkTap(func(m map[string]any) { m["captured_at"] = "001090033333" }),
		junkTap(func(m map[string]any) { m["cccd"] = "001090033333" }),
		junkTap(func(m map[string]any) { m["assertion"] = "Lê Thị Hoa" }),
	} {
		in.publish([]byte(junk))
	}

	// The API, with good and bad requests.
	tokB, _ := p.main.Auth.Issue(subB, authjwt.RoleRider, time.Hour)
	secrets = append(secrets, tokB, p.token)
	p.call("GET", "/v1/accounts/"+subA, tokB, nil)
	p.call("GET", "/v1/accounts/"+stranger.Subject, p.token, nil)
	p.call("POST", "/v1/accounts/"+subA+"/topups", p.token, map[string]any{"amount_vnd": -5, "idempotency_key": "x"})
	p.call("POST", "/v1/accounts", p.token, map[string]any{"subject": "001090033333"})
	p.call("POST", "/v1/me/disputes", tokB, map[string]any{"kind": "journey", "charge_id": 1, "reason": "Lê Thị Hoa 001090033333"})
	p.call("GET", "/v1/me/journeys", tokB+"x", nil)
	p.call("PUT", "/partner/v1/me/consents/nobody", tokB, map[string]any{"scopes": []string{"passes"}})
	p.call("GET", "/partner/v1/riders/"+subA+"/journeys", "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJ4In0.c2ln", nil)

	// Let the exporter and the workers finish what they log.
	time.Sleep(500 * time.Millisecond)
	text := logs.String()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) < 1 || lines[0] == "" {
		t.Fatal("no log line captured; the scan proves nothing")
	}
	for i, line := range lines {
		if m := cccdLike.FindString(line); m != "" {
			t.Errorf("log line %d has a CCCD-like number %q: %s", i, m, line)
		}
		if m := jwtLike.FindString(line); m != "" {
			t.Errorf("log line %d has a token: %s", i, line)
		}
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("log line %d has personal data %.40q: %s", i, s, line)
			}
		}
	}
	t.Logf("%d log lines scanned", len(lines))
	if testing.Verbose() {
		t.Log(text)
	}
}
