package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/services/partnerhttp"
)

// TestPartnerKeyRotation: a partner rotates its API key on the running
// fare service without a flag day. k0 (its registration key) and a new k1
// both work during the rotation; once k0 is retired its tokens are refused
// from the next request while k1 goes on; an unknown kid, a kid that names
// the wrong key, and the kid of another partner's key (signed by that key)
// are refused; the last active key cannot be retired; every key call is
// audited as the admin's.
func TestPartnerKeyRotation(t *testing.T) {
	p := startPlatform(t)
	call := p.call
	b64 := base64.RawURLEncoding.EncodeToString
	newKey := func() (ed25519.PublicKey, ed25519.PrivateKey) {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		return pub, priv
	}
	register := func(id string, pub ed25519.PublicKey) {
		t.Helper()
		if code, reg := call("POST", "/partner/v1/admin/partners", p.token, partnerhttp.RegisterRequest{
			ID: id, Name: "Khóa xoay / Key rotation " + id, Kind: "ticketing", PublicKey: b64(pub), Scopes: []string{"tickets"},
		}); code != 201 {
			t.Fatalf("register %s: %d %v", id, code, reg)
		}
	}
	pub0, priv0 := newKey()
	register("rot-a", pub0)
	pubB, privB := newKey()
	register("rot-b", pubB)

	// The partner's call: an unknown ticket answers 404 to an accepted
	// token, 401 to a refused one.
	use := func(priv ed25519.PrivateKey, kid, iss string) int {
		t.Helper()
		tok, err := partnerhttp.SignPartnerTokenKID(priv, kid, iss, []partner.Scope{partner.ScopeTickets}, time.Now(), 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := call("GET", "/partner/v1/tickets/T-ROT-NONE", tok, nil)
		return code
	}
	want := func(what string, got, code int) {
		t.Helper()
		if got != code {
			t.Errorf("%s: %d, want %d", what, got, code)
		}
	}
	const accepted, refused = http.StatusNotFound, http.StatusUnauthorized

	// Before the rotation: today's partners sign without kid; k0 is their key.
	want("no kid, one key", use(priv0, "", "rot-a"), accepted)
	old, _ := partnerhttp.SignPartnerToken(priv0, "rot-a", []partner.Scope{partner.ScopeTickets}, time.Now(), 5*time.Minute)
	code, _ := call("GET", "/partner/v1/tickets/T-ROT-NONE", old, nil)
	want("SignPartnerToken (no kid), one key", code, accepted)
	want("kid k0", use(priv0, "k0", "rot-a"), accepted)

	// The partner makes k1; an admin registers it.
	pub1, priv1 := newKey()
	code, k := call("POST", "/partner/v1/admin/partners/rot-a/keys", p.token, partnerhttp.KeyRequest{KID: "k1", PublicKey: b64(pub1)})
	if code != 201 || k["kid"] != "k1" || k["active"] != true || k["partner_id"] != "rot-a" || k["public_key"] != b64(pub1) {
		t.Fatalf("add k1: %d %v", code, k)
	}
	want("kid k1", use(priv1, "k1", "rot-a"), accepted)
	want("kid k0 during the rotation", use(priv0, "k0", "rot-a"), accepted)
	want("no kid with two active keys", use(priv0, "", "rot-a"), refused)
	want("unknown kid", use(priv1, "k9", "rot-a"), refused)
	want("kid k1 signed by k0", use(priv0, "k1", "rot-a"), refused)

	// Another partner's key: B registers kid b-2026; A's iss with that kid,
	// signed by B's key, is refused (keys are looked up per issuer), and so
	// is A's iss with kid k0 signed by B's k0.
	pubB2, privB2 := newKey()
	if code, k := call("POST", "/partner/v1/admin/partners/rot-b/keys", p.token, partnerhttp.KeyRequest{KID: "b-2026", PublicKey: b64(pubB2)}); code != 201 {
		t.Fatalf("add b-2026: %d %v", code, k)
	}
	want("B's own kid b-2026", use(privB2, "b-2026", "rot-b"), accepted)
	want("A's iss, B's kid b-2026 and key", use(privB2, "b-2026", "rot-a"), refused)
	want("A's iss, kid k0, B's k0 key", use(privB, "k0", "rot-a"), refused)

	// Retire k0: refused from the next request; k1 goes on.
	code, k = call("DELETE", "/partner/v1/admin/partners/rot-a/keys/k0", p.token, nil)
	if code != 200 || k["kid"] != "k0" || k["active"] != false || k["retired_at"] == nil {
		t.Fatalf("retire k0: %d %v", code, k)
	}
	want("kid k0 after retiring", use(priv0, "k0", "rot-a"), refused)
	want("no kid, signed by retired k0", use(priv0, "", "rot-a"), refused)
	want("kid k1 after retiring k0", use(priv1, "k1", "rot-a"), accepted)
	want("no kid, k1 the one active key", use(priv1, "", "rot-a"), accepted)
	want("B untouched", use(privB, "k0", "rot-b"), accepted)

	// The last active key stays; a retired key or kid does not come back.
	problemOf := func(what string, wantCode int, wantTitle string, code int, body map[string]any) {
		t.Helper()
		if code != wantCode || body["title"] != wantTitle || body["status"] != float64(wantCode) || body["detail"] == "" {
			t.Errorf("%s: %d %v, want %d %s", what, code, body, wantCode, wantTitle)
		}
	}
	code, body := call("DELETE", "/partner/v1/admin/partners/rot-a/keys/k1", p.token, nil)
	problemOf("retire the last key", 409, "last-key", code, body)
	want("k1 after refusing to retire it", use(priv1, "k1", "rot-a"), accepted)
	code, body = call("DELETE", "/partner/v1/admin/partners/rot-a/keys/k0", p.token, nil)
	problemOf("retire a retired key", 404, "not-found", code, body)
	code, body = call("DELETE", "/partner/v1/admin/partners/rot-a/keys/b-2026", p.token, nil)
	problemOf("retire another partner's kid", 404, "not-found", code, body)
	pubX, _ := newKey()
	code, body = call("POST", "/partner/v1/admin/partners/rot-a/keys", p.token, partnerhttp.KeyRequest{KID: "k0", PublicKey: b64(pubX)})
	problemOf("reuse kid k0", 409, "key-exists", code, body)
	code, body = call("POST", "/partner/v1/admin/partners/rot-a/keys", p.token, partnerhttp.KeyRequest{KID: "k0-again", PublicKey: b64(pub0)})
	problemOf("bring back the retired key", 409, "key-exists", code, body)
	code, body = call("POST", "/partner/v1/admin/partners/rot-a/keys", p.token, partnerhttp.KeyRequest{KID: "k 2", PublicKey: b64(pubX)})
	problemOf("bad kid", 400, "invalid", code, body)
	code, body = call("POST", "/partner/v1/admin/partners/rot-a/keys", p.token, partnerhttp.KeyRequest{KID: "k2", PublicKey: "AAAA"})
	problemOf("bad key", 400, "invalid", code, body)
	code, body = call("POST", "/partner/v1/admin/partners/no-such/keys", p.token, partnerhttp.KeyRequest{KID: "k2", PublicKey: b64(pubX)})
	problemOf("unknown partner", 404, "not-found", code, body)

	// At most partner.MaxActiveKeys active keys.
	for _, kid := range []string{"k2", "k3"} {
		pub, _ := newKey()
		if code, k := call("POST", "/partner/v1/admin/partners/rot-a/keys", p.token, partnerhttp.KeyRequest{KID: kid, PublicKey: b64(pub)}); code != 201 {
			t.Fatalf("add %s: %d %v", kid, code, k)
		}
	}
	code, body = call("POST", "/partner/v1/admin/partners/rot-a/keys", p.token, partnerhttp.KeyRequest{KID: "k4", PublicKey: b64(pubX)})
	problemOf("a fourth active key", 409, "too-many-keys", code, body)

	// Audited as the admin's calls, by route pattern.
	trail, err := p.main.Partners.Store.AuditTrail(context.Background(), "e2e-admin", "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range trail {
		if e.ActorKind == "admin" {
			seen[e.Method+" "+e.Route+" "+http.StatusText(e.Status)]++
		}
	}
	for k, n := range map[string]int{
		"POST /partner/v1/admin/partners/:partner_id/keys Created":          4,
		"DELETE /partner/v1/admin/partners/:partner_id/keys/:kid OK":        1,
		"DELETE /partner/v1/admin/partners/:partner_id/keys/:kid Conflict":  1,
		"DELETE /partner/v1/admin/partners/:partner_id/keys/:kid Not Found": 2,
		"POST /partner/v1/admin/partners/:partner_id/keys Conflict":         3,
	} {
		if seen[k] != n {
			t.Errorf("audit %q: %d entries, want %d (all: %v)", k, seen[k], n, seen)
		}
	}
}
