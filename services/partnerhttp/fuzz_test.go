package partnerhttp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/partnerpg"
	"github.com/vnpass/vnpass/services/settlepg"
)

// FuzzPartnerBodies: whatever body and path parameter a partner, a rider
// or an admin sends to the partner API's writing endpoints, the answer is
// never a server error, and every refusal is an RFC 7807 problem. Runs on
// the real PostgreSQL (one database for the whole run).
func FuzzPartnerBodies(f *testing.F) {
	now := time.Now().UTC().Truncate(time.Second)
	clk := func() time.Time { return now }
	pgURL := testenv.PostgresURL(f)
	settle, err := settlepg.Open(context.Background(), pgURL, clk)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(settle.Close)
	fares, err := fare.Shipped()
	if err != nil {
		f.Fatal(err)
	}
	store, err := partnerpg.Open(context.Background(), pgURL, partnerpg.Config{
		RefKey: bytes.Repeat([]byte("k"), 32), ClaimJTI: noClaim, Now: clk,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(store.Close)
	auth, _ := authjwt.New(bytes.Repeat([]byte("s"), 32), clk)
	api, err := New(Config{Store: store, Auth: auth, Now: clk, Fares: fares,
		Passes: SettlePasses{Partners: store, Settle: settle, Now: clk}})
	if err != nil {
		f.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	api.Mount(app)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := store.RegisterPartner(context.Background(), partner.Partner{ID: "fz", Name: "fz", Kind: partner.KindTicketing,
		PublicKey: pub, Scopes: []partner.Scope{partner.ScopeTickets, partner.ScopePasses}, RatePerMin: 100000}); err != nil {
		f.Fatal(err)
	}
	riderTok, _ := auth.Issue("vn_fuzzrider", authjwt.RoleRider, time.Hour)
	adminTok, _ := auth.Issue("admin", authjwt.RoleAdmin, time.Hour)
	partnerTok := func() string {
		s, _ := SignPartnerToken(priv, "fz", []partner.Scope{partner.ScopeTickets, partner.ScopePasses}, now, 5*time.Minute)
		return s
	}
	type route struct{ method, path, who string }
	routes := []route{
		{"PUT", "/partner/v1/me/consents/", "rider"},
		{"PUT", "/partner/v1/tickets/", "partner"},
		{"POST", "/partner/v1/riders/%s/passes", "partner"},
		{"POST", "/partner/v1/admin/partners", "admin"},
		{"POST", "/partner/v1/admin/partners/%s/keys", "admin"},
	}
	j := func(v any) []byte { b, _ := json.Marshal(v); return b }
	dep := now.Add(time.Hour).Format(time.RFC3339)
	f.Add(uint8(0), "fz", j(GrantRequest{Scopes: []string{"tickets"}, ExpiresAt: now.Add(time.Hour).Format(time.RFC3339)}))
	f.Add(uint8(0), "fz", []byte(`{"scopes":["tickets","tickets",""],"expires_at":"9999-12-31T23:59:59Z"}`))
	f.Add(uint8(1), "T1", j(TicketRequest{RiderRef: "r", Train: "SE3", Departure: dep, Coach: "2", Seat: "7", Origin: "HNO", Destination: "DNA"}))
	f.Add(uint8(1), "T\x002", []byte(`{"rider_ref":"\u0000","train":"SE\u00003","departure":"`+dep+`"}`))
	f.Add(uint8(2), "ref", j(PassRequest{ProductID: "hn2a-day", ExternalID: "x", IdempotencyKey: "k"}))
	f.Add(uint8(2), "ref", []byte(`{"product_id":"hn2a-day","start":"1-01-01T00:00:00Z","external_id":"\u0000","idempotency_key":""}`))
	f.Add(uint8(3), "", j(RegisterRequest{ID: "p2", Name: "P", Kind: "ride", PublicKey: base64.RawURLEncoding.EncodeToString(pub), Scopes: []string{"passes"}}))
	f.Add(uint8(3), "", []byte(`{"id":"\u0000","name":"`+strings.Repeat("n", 5000)+`","kind":"ride","public_key":"","rate_per_min":-1}`))
	f.Add(uint8(4), "fz", j(KeyRequest{KID: "k1", PublicKey: base64.RawURLEncoding.EncodeToString(pub)}))
	f.Add(uint8(4), "fz", []byte(`{"kid":"k\u00001","public_key":"`+strings.Repeat("A", 43)+`"}`))
	f.Add(uint8(4), "n\x00o", []byte(`{"kid":"`+strings.Repeat("k", 65)+`","public_key":null}`))
	f.Add(uint8(1), "x", []byte(`[`))
	f.Fuzz(func(t *testing.T, which uint8, param string, body []byte) {
		r := routes[int(which)%len(routes)]
		path := r.path
		if strings.Contains(path, "%s") {
			path = strings.Replace(path, "%s", url.PathEscape(param), 1)
		} else if strings.HasSuffix(path, "/") {
			path += url.PathEscape(param)
		}
		if param == "" && (strings.HasSuffix(path, "/") || strings.Contains(r.path, "%s")) {
			return // another route, or none ("riders//passes")
		}
		req := httptest.NewRequest(r.method, "http://x"+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		tok := map[string]string{"rider": riderTok, "admin": adminTok}[r.who]
		if r.who == "partner" {
			tok = partnerTok()
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := app.Test(req, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, path, body, resp.StatusCode, b)
		}
		if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%s %s: %d not a problem: %s", r.method, path, resp.StatusCode, b)
		}
	})
}
