package vneid

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer = "https://vneid-test.local"
	testDevice = "hn2a-cat-linh-g01"
)

var t0 = time.Date(2026, 3, 10, 1, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// provider is a minimal JWKS host whose published keys the test controls.
type provider struct {
	srv     *httptest.Server
	mu      sync.Mutex
	jwks    []byte
	fetches atomic.Int64
}

func newProvider(t *testing.T, keys ...testKey) *provider {
	p := &provider{}
	p.publish(t, keys...)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		body := p.jwks
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) publish(t *testing.T, keys ...testKey) {
	set := map[string][]map[string]string{"keys": {}}
	for _, k := range keys {
		set["keys"] = append(set["keys"], k.jwk())
	}
	p.publishRaw(t, set)
}

func (p *provider) publishRaw(t *testing.T, doc any) {
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.jwks = data
	p.mu.Unlock()
}

func (p *provider) url() string { return p.srv.URL + "/.well-known/jwks.json" }

type testKey struct {
	kid  string
	priv ed25519.PrivateKey
}

func newTestKey(t testing.TB) testKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(priv.Public().(ed25519.PublicKey))
	return testKey{kid: base64.RawURLEncoding.EncodeToString(sum[:8]), priv: priv}
}

func (k testKey) pub() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

func (k testKey) jwk() map[string]string {
	return map[string]string{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(k.pub()), "kid": k.kid, "alg": "EdDSA", "use": "sig"}
}

// goodClaims are valid at t0 for testDevice.
func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer, "sub": "vn_abcdefghijklmnopqrstuvwxyz", "aud": testDevice,
		"iat": t0.Unix(), "nbf": t0.Unix(), "exp": t0.Add(time.Minute).Unix(),
		"jti": "0b6f4a0e-8a4c-4c5e-9f3e-2d1b7c9a1e11", "lvl": 2, "age": 35, "dis": false, "mer": true,
	}
}

// mint signs claims with method and key, setting kid unless it is "".
func mint(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return s
}

func newTestVerifier(t testing.TB, jwksURL string, clk *clock) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, JWKSURL: jwksURL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func jsonMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
