package vneidsim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// decodeJWT splits a compact JWS and checks its signature against the server's JWKS.
func decodeJWT(t *testing.T, s *Server, tok string) (header, payload map[string]any, rawPayload string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("token not base64url: %v %v %v", err1, err2, err3)
	}
	if json.Unmarshal(hb, &header) != nil || json.Unmarshal(pb, &payload) != nil {
		t.Fatalf("token segments not JSON: %s %s", hb, pb)
	}
	var pub ed25519.PublicKey
	for _, k := range s.JWKS().Keys {
		if k.Kid == header["kid"] {
			pub, _ = base64.RawURLEncoding.DecodeString(k.X)
		}
	}
	if pub == nil || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatalf("signature does not verify with published kid %v", header["kid"])
	}
	return header, payload, string(pb)
}

func TestMatchIssuesMinimalAssertion(t *testing.T) {
	clk := newClock(t0)
	s := newTestServer(t, "", clk)
	e := an
	e.Meritorious = true
	out, _, err := s.Enroll(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	status, body := do(t, s, http.MethodPost, "/v1/match", bearer(testKey), map[string]string{"face_ref": out.FaceRef, "device": "hn2a-cat-linh-g01"})
	if status != http.StatusOK {
		t.Fatalf("match: %d %v", status, body)
	}
	tok, _ := body["assertion"].(string)
	header, claims, raw := decodeJWT(t, s, tok)

	if header["alg"] != "EdDSA" || header["typ"] != "JWT" || header["kid"] != s.SigningKID() {
		t.Errorf("header = %v", header)
	}
	want := map[string]any{
		"iss": DefaultIssuer, "sub": out.Subject, "aud": "hn2a-cat-linh-g01",
		"iat": float64(t0.Unix()), "nbf": float64(t0.Unix()), "exp": float64(t0.Add(DefaultTTL).Unix()),
		"lvl": float64(2), "age": float64(35), "dis": false, "mer": true,
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %#v, want %#v", k, claims[k], v)
		}
	}
	if jti, _ := claims["jti"].(string); len(jti) != 36 {
		t.Errorf("jti = %v, want a UUID", claims["jti"])
	}
	keys := make([]string, 0, len(claims))
	for k := range claims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if got := strings.Join(keys, ","); got != "age,aud,dis,exp,iat,iss,jti,lvl,mer,nbf,sub" {
		t.Errorf("claims = %s: nothing beyond the agreed set may leave the provider", got)
	}
	// No CCCD, name (in any JSON spelling) or birth date anywhere in the token.
	for _, secret := range []string{an.CCCD, "Nguy", "An\"", "1990", "05-17", "u1ec5"} {
		if strings.Contains(raw, secret) {
			t.Errorf("token payload contains %q: %s", secret, raw)
		}
	}
	if exp, _ := body["expires_at"].(string); exp != t0.Add(DefaultTTL).UTC().Format(time.RFC3339) {
		t.Errorf("expires_at = %v", body["expires_at"])
	}

	// Each match is a fresh assertion.
	tok2, _, err := s.Match(context.Background(), out.FaceRef, "hn2a-cat-linh-g01")
	if err != nil {
		t.Fatal(err)
	}
	if _, c2, _ := decodeJWT(t, s, tok2); c2["jti"] == claims["jti"] {
		t.Error("two matches share a jti")
	}
}

func TestMatchErrors(t *testing.T) {
	s := newTestServer(t, "", newClock(t0))
	out, _, err := s.Enroll(context.Background(), an)
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]string{"face_ref": out.FaceRef, "device": "hn2a-cat-linh-g01"}
	tests := []struct {
		name   string
		auth   string
		body   any
		status int
		errStr string
	}{
		{"no auth", "", good, 401, "unauthorized"},
		{"wrong key", bearer("test-client-key-0123456788"), good, 401, "unauthorized"},
		{"key prefix", bearer(testKey[:10]), good, 401, "unauthorized"},
		{"basic scheme", "Basic " + testKey, good, 401, "unauthorized"},
		{"bare key", testKey, good, 401, "unauthorized"},
		{"unknown face", bearer(testKey), map[string]string{"face_ref": "AAAA", "device": "g1"}, 404, "no_match"},
		{"empty face", bearer(testKey), map[string]string{"face_ref": "", "device": "g1"}, 400, "invalid_request"},
		{"empty device", bearer(testKey), map[string]string{"face_ref": out.FaceRef, "device": ""}, 400, "invalid_request"},
		{"device with space", bearer(testKey), map[string]string{"face_ref": out.FaceRef, "device": "g 1"}, 400, "invalid_request"},
		{"device too long", bearer(testKey), map[string]string{"face_ref": out.FaceRef, "device": strings.Repeat("g", 129)}, 400, "invalid_request"},
		{"unknown field", bearer(testKey), map[string]string{"face_ref": out.FaceRef, "device": "g1", "cccd": an.CCCD}, 400, "invalid_request"},
		{"lowercase scheme ok", "bearer " + testKey, good, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, s, http.MethodPost, "/v1/match", tt.auth, tt.body)
			if status != tt.status || (tt.errStr != "" && body["error"] != tt.errStr) {
				t.Fatalf("got %d %v, want %d %s", status, body, tt.status, tt.errStr)
			}
		})
	}
	if _, _, err := s.Match(context.Background(), "nope", "g1"); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("Match unknown face: %v, want ErrNoMatch", err)
	}
}

func TestJWKSAndRotation(t *testing.T) {
	s := newTestServer(t, "", newClock(t0))
	ctx := context.Background()
	status, body := do(t, s, http.MethodGet, "/.well-known/jwks.json", "", nil)
	keys, _ := body["keys"].([]any)
	if status != 200 || len(keys) != 1 {
		t.Fatalf("jwks: %d %v", status, body)
	}
	k0, _ := keys[0].(map[string]any)
	x, _ := base64.RawURLEncoding.DecodeString(k0["x"].(string))
	if k0["kty"] != "OKP" || k0["crv"] != "Ed25519" || k0["alg"] != "EdDSA" || k0["use"] != "sig" || len(x) != 32 || k0["kid"] != s.SigningKID() {
		t.Fatalf("jwk = %v", k0)
	}
	if _, has := k0["d"]; has || len(k0) != 6 {
		t.Fatalf("jwk has unexpected members: %v", k0)
	}
	if k0["kid"] != thumbprint(x) {
		t.Fatalf("kid %v is not the RFC 7638 thumbprint", k0["kid"])
	}
	oldKid := s.SigningKID()

	// Admin endpoints want the client key.
	if status, _ := do(t, s, http.MethodPost, "/v1/admin/rotate", "", nil); status != 401 {
		t.Fatalf("rotate without key: %d", status)
	}
	status, body = do(t, s, http.MethodPost, "/v1/admin/rotate", bearer(testKey), nil)
	newKid, _ := body["kid"].(string)
	if status != 200 || newKid == "" || newKid == oldKid || s.SigningKID() != newKid {
		t.Fatalf("rotate: %d %v", status, body)
	}
	if got := s.JWKS().Keys; len(got) != 2 || got[0].Kid != oldKid || got[1].Kid != newKid {
		t.Fatalf("after rotate JWKS = %v", got)
	}
	out, _, _ := s.Enroll(ctx, an)
	tok, _, _ := s.Match(ctx, out.FaceRef, "g1")
	if h, _, _ := decodeJWT(t, s, tok); h["kid"] != newKid {
		t.Fatalf("signed with %v after rotation, want %s", h["kid"], newKid)
	}

	if status, body := do(t, s, http.MethodDelete, "/v1/admin/keys/"+newKid, bearer(testKey), nil); status != 409 || body["error"] != "key_in_use" {
		t.Fatalf("removing signing key: %d %v", status, body)
	}
	if status, _ := do(t, s, http.MethodDelete, "/v1/admin/keys/"+oldKid, "", nil); status != 401 {
		t.Fatalf("remove without key: %d", status)
	}
	if status, _ := do(t, s, http.MethodDelete, "/v1/admin/keys/"+oldKid, bearer(testKey), nil); status != 204 {
		t.Fatalf("remove old key: %d", status)
	}
	if got := s.JWKS().Keys; len(got) != 1 || got[0].Kid != newKid {
		t.Fatalf("after remove JWKS = %v", got)
	}
	if err := s.RemoveKey(ctx, oldKid); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
}

func TestHealthzAndUnknownRoute(t *testing.T) {
	s := newTestServer(t, "", newClock(t0))
	if status, body := do(t, s, http.MethodGet, "/healthz", "", nil); status != 200 || body["status"] != "ok" {
		t.Fatalf("healthz: %d %v", status, body)
	}
	if status, body := do(t, s, http.MethodGet, "/v1/citizens/001090012345", "", nil); status != 404 || body["error"] != "not_found" {
		t.Fatalf("unknown route: %d %v", status, body)
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state") // does not exist yet
	ctx := context.Background()
	s1, err := New(Config{ClientKey: testKey, Dir: dir, Now: newClock(t0).Now})
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := s1.Enroll(ctx, an)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	jwks1, kid1 := s1.JWKS(), s1.SigningKID()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{keysFile, citizensFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", fi.Mode().Perm())
	}

	s2 := newTestServer(t, dir, newClock(t0))
	again, created, err := s2.Enroll(ctx, an)
	if err != nil || created || again != first {
		t.Fatalf("after restart Enroll = %v %v %v, want %v, not created", again, created, err, first)
	}
	if got := s2.JWKS(); !slices.Equal(got.Keys, jwks1.Keys) || s2.SigningKID() != kid1 {
		t.Fatalf("keys changed across restart: %v vs %v", got, jwks1)
	}
	tok, _, err := s2.Match(ctx, first.FaceRef, "g1")
	if err != nil {
		t.Fatalf("old face_ref after restart: %v", err)
	}
	if h, c, _ := decodeJWT(t, s2, tok); h["kid"] != kid1 || c["sub"] != first.Subject || c["age"] != float64(35) {
		t.Fatalf("after restart: header %v claims %v", h, c)
	}

	// A different state dir is a different provider: different subject.
	s3 := newTestServer(t, t.TempDir(), newClock(t0))
	other, _, _ := s3.Enroll(ctx, an)
	if other.Subject == first.Subject {
		t.Fatal("subject does not depend on the provider's secret")
	}
}

func TestTruncatedCitizenLineIsDropped(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s1 := newTestServer(t, dir, newClock(t0))
	first, _, _ := s1.Enroll(ctx, an)
	s1.Close()
	path := filepath.Join(dir, citizensFile)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"cccd":"079185000001","full_na`) // crash mid-append
	f.Close()

	s2 := newTestServer(t, dir, newClock(t0))
	if _, _, err := s2.Match(ctx, first.FaceRef, "g1"); err != nil {
		t.Fatalf("intact citizen lost: %v", err)
	}
	e := an
	e.CCCD = "079185000001"
	if _, created, err := s2.Enroll(ctx, e); err != nil || !created {
		t.Fatalf("re-enroll of lost citizen: created=%v err=%v", created, err)
	}
	s2.Close()
	s3 := newTestServer(t, dir, newClock(t0))
	if len(s3.byCCCD) != 2 {
		t.Fatalf("after repair %d citizens, want 2", len(s3.byCCCD))
	}

	// Damage before the last line is not silently skipped.
	os.WriteFile(path, []byte("garbage\n"+`{"cccd":"x"}`+"\n"), 0o600)
	if _, err := New(Config{ClientKey: testKey, Dir: dir}); err == nil {
		t.Fatal("New accepted a corrupt citizens file")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{ClientKey: "short"},
		{ClientKey: testKey, Issuer: "vneid-sim.local"},
		{ClientKey: testKey, Issuer: "ftp://x"},
		{ClientKey: testKey, TTL: time.Hour},
		{ClientKey: testKey, TTL: -time.Second},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v) err = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

// Over a real socket: the body limit answers 413 rather than dropping the connection.
func TestServeRealHTTP(t *testing.T) {
	s := newTestServer(t, "", newClock(t0))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	base := "http://" + ln.Addr().String()

	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	big := bytes.Repeat([]byte("a"), 20<<10)
	resp, err = http.Post(base+"/v1/citizens", "application/json", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d %s", resp.StatusCode, data)
	}
}

// Shutdown right after starting Serve in a goroutine must still stop it.
func TestShutdownRacingServe(t *testing.T) {
	for range 20 {
		s := newTestServer(t, "", newClock(t0))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Serve(ln) }()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Serve after Shutdown: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve still running after Shutdown")
		}
	}
}
