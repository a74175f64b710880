package vneid

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vnpass/vnpass/identity"
)

func TestVerifyAccepts(t *testing.T) {
	k := newTestKey(t)
	p := newProvider(t, k)
	v := newTestVerifier(t, p.url(), &clock{t: t0})
	got, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, goodClaims()), testDevice)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := identity.Assertion{
		Subject: "vn_abcdefghijklmnopqrstuvwxyz", JTI: "0b6f4a0e-8a4c-4c5e-9f3e-2d1b7c9a1e11", Audience: testDevice,
		IssuedAt: t0, ExpiresAt: t0.Add(time.Minute), Level: 2, Age: 35, Meritorious: true,
	}
	if !got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("times = %v..%v, want %v..%v", got.IssuedAt, got.ExpiresAt, want.IssuedAt, want.ExpiresAt)
	}
	got.IssuedAt, got.ExpiresAt = want.IssuedAt, want.ExpiresAt
	if got != want {
		t.Fatalf("Verify = %+v, want %+v", got, want)
	}
}

// Every way to get an assertion wrong, each mapped to its sentinel.
func TestVerifyRejects(t *testing.T) {
	k := newTestKey(t)
	forger := newTestKey(t)
	p := newProvider(t, k)
	ctx := context.Background()
	edit := func(f func(jwt.MapClaims)) jwt.MapClaims { c := goodClaims(); f(c); return c }
	good := mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, goodClaims())

	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	tests := []struct {
		name   string
		token  string
		device string
		age    time.Duration // clock offset from t0
		want   error
	}{
		{"forged signature, same kid", mint(t, jwt.SigningMethodEdDSA, forger.priv, k.kid, goodClaims()), testDevice, 0, identity.ErrAssertionInvalid},
		{"unknown kid", mint(t, jwt.SigningMethodEdDSA, forger.priv, forger.kid, goodClaims()), testDevice, 0, identity.ErrAssertionInvalid},
		{"missing kid", mint(t, jwt.SigningMethodEdDSA, k.priv, "", goodClaims()), testDevice, 0, identity.ErrAssertionInvalid},
		{"alg none", mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, k.kid, goodClaims()), testDevice, 0, identity.ErrAssertionInvalid},
		{"HS256 with public key bytes", mint(t, jwt.SigningMethodHS256, []byte(k.pub()), k.kid, goodClaims()), testDevice, 0, identity.ErrAssertionInvalid},
		{"HS256 with JWK x string", mint(t, jwt.SigningMethodHS256, []byte(k.jwk()["x"]), k.kid, goodClaims()), testDevice, 0, identity.ErrAssertionInvalid},
		{"RS256 on an Ed25519 kid", mint(t, jwt.SigningMethodRS256, rsaKey, k.kid, goodClaims()), testDevice, 0, identity.ErrAssertionInvalid},
		{"ES256 on an Ed25519 kid", mint(t, jwt.SigningMethodES256, ecKey, k.kid, goodClaims()), testDevice, 0, identity.ErrAssertionInvalid},
		{"tampered payload", tamper(t, good, func(c map[string]any) { c["sub"] = "vn_someoneelse00000000000000" }), testDevice, 0, identity.ErrAssertionInvalid},
		{"tampered age", tamper(t, good, func(c map[string]any) { c["age"] = 70 }), testDevice, 0, identity.ErrAssertionInvalid},
		{"signature stripped", good[:strings.LastIndexByte(good, '.')+1], testDevice, 0, identity.ErrAssertionInvalid},
		{"malformed", "not.a.jwt", testDevice, 0, identity.ErrAssertionInvalid},
		{"empty", "", testDevice, 0, identity.ErrAssertionInvalid},
		{"too long", good + strings.Repeat("A", 9<<10), testDevice, 0, identity.ErrAssertionInvalid},
		{"expired", good, testDevice, time.Minute + 6*time.Second, identity.ErrAssertionExpired},
		{"expired just past leeway", good, testDevice, time.Minute + 5*time.Second, identity.ErrAssertionExpired},
		{"not yet valid (nbf)", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["nbf"] = t0.Add(10 * time.Second).Unix() })), testDevice, 0, identity.ErrAssertionNotYetValid},
		{"issued in the future (iat)", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["iat"] = t0.Add(10 * time.Second).Unix() })), testDevice, 0, identity.ErrAssertionNotYetValid},
		{"wrong device", good, "hn2a-la-thanh-g02", 0, identity.ErrAssertionWrongDevice},
		{"empty device", good, "", 0, identity.ErrAssertionWrongDevice},
		{"aud array with two devices", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["aud"] = []string{testDevice, "g02"} })), testDevice, 0, identity.ErrAssertionWrongDevice},
		{"aud missing", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { delete(c, "aud") })), testDevice, 0, identity.ErrAssertionWrongDevice},
		{"wrong issuer", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), testDevice, 0, identity.ErrAssertionInvalid},
		{"wrong issuer and expired", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), testDevice, time.Hour, identity.ErrAssertionInvalid},
		{"exp missing", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { delete(c, "exp") })), testDevice, 0, identity.ErrAssertionInvalid},
		{"exp not a number", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["exp"] = "soon" })), testDevice, 0, identity.ErrAssertionInvalid},
		{"iat missing", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { delete(c, "iat") })), testDevice, 0, identity.ErrAssertionInvalid},
		{"lifetime a day", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["exp"] = t0.Add(24 * time.Hour).Unix() })), testDevice, 0, identity.ErrAssertionInvalid},
		{"jti missing", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { delete(c, "jti") })), testDevice, 0, identity.ErrAssertionInvalid},
		{"jti too long", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["jti"] = strings.Repeat("j", 257) })), testDevice, 0, identity.ErrAssertionInvalid},
		{"sub missing", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { delete(c, "sub") })), testDevice, 0, identity.ErrAssertionInvalid},
		{"sub with space", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["sub"] = "vn_ab cd" })), testDevice, 0, identity.ErrAssertionInvalid},
		{"level 1", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["lvl"] = 1 })), testDevice, 0, identity.ErrAssertionInvalid},
		{"level missing", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { delete(c, "lvl") })), testDevice, 0, identity.ErrAssertionInvalid},
		{"age missing", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { delete(c, "age") })), testDevice, 0, identity.ErrAssertionInvalid},
		{"age negative", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["age"] = -1 })), testDevice, 0, identity.ErrAssertionInvalid},
		{"dis not bool", mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, edit(func(c jwt.MapClaims) { c["dis"] = "yes" })), testDevice, 0, identity.ErrAssertionInvalid},
		{"typ not JWT", withHeader(t, k, "typ", "at+jwt"), testDevice, 0, identity.ErrAssertionInvalid},
		{"crit header", withHeader(t, k, "crit", []string{"exp"}), testDevice, 0, identity.ErrAssertionInvalid},
		{"kid not a string", withHeader(t, k, "kid", 7), testDevice, 0, identity.ErrAssertionInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: t0}
			v := newTestVerifier(t, p.url(), clk)
			if err := v.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			clk.Advance(tt.age)
			a, err := v.Verify(ctx, tt.token, tt.device)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify err = %v, want %v", err, tt.want)
			}
			for _, other := range []error{identity.ErrAssertionInvalid, identity.ErrAssertionExpired, identity.ErrAssertionNotYetValid, identity.ErrAssertionWrongDevice} {
				if other != tt.want && errors.Is(err, other) {
					t.Fatalf("Verify err = %v also matches %v", err, other)
				}
			}
			if a != (identity.Assertion{}) {
				t.Fatalf("rejected token returned %+v", a)
			}
		})
	}

	// Within the leeway the same token is still good, both ways.
	for _, off := range []time.Duration{time.Minute + 4*time.Second, -4 * time.Second} {
		clk := &clock{t: t0.Add(off)}
		v := newTestVerifier(t, p.url(), clk)
		if _, err := v.Verify(ctx, good, testDevice); err != nil {
			t.Errorf("clock %v from iat: %v, want accepted within leeway", off, err)
		}
	}
}

// tamper re-encodes the payload of tok, keeping its header and signature.
func tamper(t *testing.T, tok string, f func(map[string]any)) string {
	parts := strings.Split(tok, ".")
	var c map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	f(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(jsonMarshal(t, c))
	return strings.Join(parts, ".")
}

func withHeader(t *testing.T, k testKey, name string, val any) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, goodClaims())
	tok.Header["kid"] = k.kid
	tok.Header[name] = val
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A flood of forged kids fetches the JWKS at most once per RefetchInterval.
func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	k := newTestKey(t)
	p := newProvider(t, k)
	clk := &clock{t: t0}
	v := newTestVerifier(t, p.url(), clk)
	ctx := context.Background()
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	forger := newTestKey(t)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			kid := "forged-" + string(rune('a'+i%26)) + strings.Repeat("x", i%7)
			if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodEdDSA, forger.priv, kid, goodClaims()), testDevice); !errors.Is(err, identity.ErrAssertionInvalid) {
				t.Errorf("forged kid: %v", err)
			}
		})
	}
	wg.Wait()
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times for 200 forged kids within the interval, want 1 (start-up only)", n)
	}
	clk.Advance(DefaultRefetchInterval)
	v.Verify(ctx, mint(t, jwt.SigningMethodEdDSA, forger.priv, "forged-again", goodClaims()), testDevice)
	v.Verify(ctx, mint(t, jwt.SigningMethodEdDSA, forger.priv, "forged-again2", goodClaims()), testDevice)
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("after the interval JWKS fetched %d times, want 2", n)
	}
	// Known kids never fetch.
	for range 50 {
		if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, goodClaims()), testDevice); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("known kids caused fetches: %d", n)
	}
}

// The first Verify fetches lazily; a provider that rotates is followed.
func TestRotationRefetch(t *testing.T) {
	k1, k2 := newTestKey(t), newTestKey(t)
	p := newProvider(t, k1)
	clk := &clock{t: t0}
	v := newTestVerifier(t, p.url(), clk)
	ctx := context.Background()
	old := mint(t, jwt.SigningMethodEdDSA, k1.priv, k1.kid, goodClaims())
	if _, err := v.Verify(ctx, old, testDevice); err != nil {
		t.Fatalf("lazy first fetch: %v", err)
	}
	p.publish(t, k1, k2)
	clk.Advance(DefaultRefetchInterval)
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodEdDSA, k2.priv, k2.kid, goodClaims()), testDevice); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if _, err := v.Verify(ctx, old, testDevice); err != nil {
		t.Fatalf("old key still published: %v", err)
	}
	// The provider drops k1: after a refresh its tokens stop verifying.
	p.publish(t, k2)
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, old, testDevice); !errors.Is(err, identity.ErrAssertionInvalid) {
		t.Fatalf("removed key: %v, want invalid", err)
	}
}

func TestRefreshFailuresKeepKeys(t *testing.T) {
	k := newTestKey(t)
	p := newProvider(t, k)
	clk := &clock{t: t0}
	v := newTestVerifier(t, p.url(), clk)
	ctx := context.Background()
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.jwks = []byte("<html>oops</html>")
	p.mu.Unlock()
	if err := v.Refresh(ctx); err == nil {
		t.Fatal("Refresh accepted HTML")
	}
	p.publishRaw(t, map[string]any{"keys": []any{k.jwk()}, "pad": strings.Repeat("x", DefaultMaxJWKSBytes)})
	if err := v.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Refresh of oversized JWKS: %v", err)
	}
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, goodClaims()), testDevice); err != nil {
		t.Fatalf("cached key lost after failed refreshes: %v", err)
	}
}

func TestParseJWKSPinning(t *testing.T) {
	ed := newTestKey(t).jwk()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	weakRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b64 := base64.RawURLEncoding.EncodeToString
	rsaJWK := func(k *rsa.PrivateKey, kid, alg string) map[string]string {
		return map[string]string{"kty": "RSA", "kid": kid, "alg": alg, "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	}
	ecJWK := func(kid, crv, alg string) map[string]string {
		return map[string]string{"kty": "EC", "kid": kid, "crv": crv, "alg": alg, "x": b64(ecKey.X.FillBytes(make([]byte, 32))), "y": b64(ecKey.Y.FillBytes(make([]byte, 32)))}
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		c := map[string]string{}
		for k, v := range m {
			c[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(c, kv[i])
			} else {
				c[kv[i]] = kv[i+1]
			}
		}
		return c
	}
	doc := map[string]any{"keys": []any{
		with(ed, "kid", "ed"),
		with(ed, "kid", "ed-noalg", "alg", ""),
		with(ed, "kid", "ed-as-rs", "alg", "RS256"),
		with(ed, "kid", "ed-as-hs", "alg", "HS256"),
		with(ed, "kid", "ed-enc", "use", "enc"),
		with(ed, "kid", "ed-x448", "crv", "X448"),
		with(ed, "kid", "ed-short", "x", "AAAA"),
		with(ed, "kid", ""),
		map[string]string{"kty": "oct", "kid": "hmac", "alg": "HS256", "k": "c2VjcmV0"},
		rsaJWK(rsaKey, "rsa", "RS256"),
		rsaJWK(rsaKey, "rsa-noalg", ""),
		rsaJWK(rsaKey, "rsa-as-eddsa", "EdDSA"),
		rsaJWK(weakRSA, "rsa-weak", "RS256"),
		ecJWK("ec", "P-256", "ES256"),
		ecJWK("ec-noalg", "P-256", ""),
		ecJWK("ec-wrong-curve-alg", "P-256", "ES384"),
		with(ecJWK("ec-off-curve", "P-256", "ES256"), "y", b64(make([]byte, 32))),
		with(ed, "kid", "dup"),
		with(ed, "kid", "dup"),
	}}
	data := jsonMarshal(t, doc)
	keys, err := parseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ed": "EdDSA", "ed-noalg": "EdDSA", "rsa": "RS256", "ec": "ES256"}
	if len(keys) != len(want) {
		t.Errorf("kept %d keys, want %d: %v", len(keys), len(want), keys)
	}
	for kid, alg := range want {
		if keys[kid].alg != alg {
			t.Errorf("kid %s pinned to %q, want %q", kid, keys[kid].alg, alg)
		}
	}

	// A pinned RS256 key verifies RS256 and nothing else.
	p := newProvider(t)
	p.publishRaw(t, doc)
	v := newTestVerifier(t, p.url(), &clock{t: t0})
	ctx := context.Background()
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodRS256, rsaKey, "rsa", goodClaims()), testDevice); err != nil {
		t.Fatalf("RS256 with RS256 key: %v", err)
	}
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodPS256, rsaKey, "rsa", goodClaims()), testDevice); !errors.Is(err, identity.ErrAssertionInvalid) {
		t.Fatalf("PS256 on an RS256-pinned key: %v", err)
	}
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodES256, ecKey, "ec", goodClaims()), testDevice); err != nil {
		t.Fatalf("ES256 with ES256 key: %v", err)
	}
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodHS256, []byte("secret"), "hmac", goodClaims()), testDevice); !errors.Is(err, identity.ErrAssertionInvalid) {
		t.Fatalf("HS256 with published oct key: %v", err)
	}
}

func TestVerifierConfig(t *testing.T) {
	for _, cfg := range []VerifierConfig{
		{JWKSURL: "http://x/jwks"},
		{Issuer: testIssuer},
		{Issuer: testIssuer, JWKSURL: "/relative"},
		{Issuer: testIssuer, JWKSURL: "http://x/jwks", Leeway: 2 * time.Minute},
		{Issuer: testIssuer, JWKSURL: "http://x/jwks", Leeway: -time.Second},
	} {
		if _, err := NewVerifier(cfg); err == nil {
			t.Errorf("NewVerifier(%+v) accepted", cfg)
		}
	}
}

// Run picks up a provider that removed a key, without any unknown kid to prompt it.
func TestRunRefreshesPeriodically(t *testing.T) {
	k1, k2 := newTestKey(t), newTestKey(t)
	p := newProvider(t, k1, k2)
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, JWKSURL: p.url(), Now: (&clock{t: t0}).Now, RefreshInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx, nil) }()
	defer func() { cancel(); <-done }()

	old := mint(t, jwt.SigningMethodEdDSA, k1.priv, k1.kid, goodClaims())
	if _, err := v.Verify(ctx, old, testDevice); err != nil {
		t.Fatal(err)
	}
	p.publish(t, k2)
	deadline := time.Now().Add(5 * time.Second)
	for len(v.KeyIDs()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not drop the removed key: %v", v.KeyIDs())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := v.Verify(ctx, old, testDevice); !errors.Is(err, identity.ErrAssertionInvalid) {
		t.Fatalf("removed key after Run refresh: %v", err)
	}
}
