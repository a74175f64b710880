package vneid

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vnpass/vnpass/identity"
)

// A tap decided offline reaches the cloud hours after its capture: VerifyAt
// judges the assertion's time window at the capture time, and nothing else
// more leniently.
func TestVerifyAtJudgesTheWindowAtThatInstant(t *testing.T) {
	k := newTestKey(t)
	p := newProvider(t, k)
	clk := &clock{t: t0.Add(5 * time.Hour)} // the tap arrives five hours late
	v := newTestVerifier(t, p.url(), clk)
	ctx := context.Background()
	good := mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, goodClaims())

	if _, err := v.Verify(ctx, good, testDevice); !errors.Is(err, identity.ErrAssertionExpired) {
		t.Fatalf("Verify now = %v, want expired", err)
	}
	a, err := v.VerifyAt(ctx, good, testDevice, t0.Add(2*time.Second))
	if err != nil {
		t.Fatalf("VerifyAt capture time: %v", err)
	}
	if a.Subject != "vn_abcdefghijklmnopqrstuvwxyz" || a.Audience != testDevice {
		t.Errorf("assertion %+v", a)
	}
	for _, c := range []struct {
		name string
		at   time.Time
		dev  string
		tok  string
		want error
	}{
		{"captured after expiry", t0.Add(2 * time.Minute), testDevice, good, identity.ErrAssertionExpired},
		{"captured before issue", t0.Add(-time.Minute), testDevice, good, identity.ErrAssertionNotYetValid},
		{"another device", t0, "hn2a-lang-g01", good, identity.ErrAssertionWrongDevice},
		{"forged", t0, testDevice, mint(t, jwt.SigningMethodEdDSA, newTestKey(t).priv, k.kid, goodClaims()), identity.ErrAssertionInvalid},
		{"no instant", time.Time{}, testDevice, good, identity.ErrAssertionInvalid},
	} {
		if _, err := v.VerifyAt(ctx, c.tok, c.dev, c.at); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	// VerifyAt leaves Verify's clock alone.
	if _, err := v.Verify(ctx, good, testDevice); !errors.Is(err, identity.ErrAssertionExpired) {
		t.Errorf("Verify after VerifyAt = %v, want expired", err)
	}
}

// A gate keeps the JWKS it fetched (OnJWKS) and loads it after a restart
// without network (LoadJWKS).
func TestJWKSKeptAndLoaded(t *testing.T) {
	k := newTestKey(t)
	p := newProvider(t, k)
	var kept atomic.Pointer[[]byte]
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, JWKSURL: p.url(), Now: (&clock{t: t0}).Now,
		OnJWKS: func(doc []byte) { kept.Store(&doc) }})
	if err != nil {
		t.Fatal(err)
	}
	if v.HasKeys() {
		t.Fatal("keys before any fetch")
	}
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if kept.Load() == nil || !v.HasKeys() {
		t.Fatal("OnJWKS not called after a fetch")
	}

	// The restarted gate: the provider is unreachable, the kept keys verify.
	offline, err := NewVerifier(VerifierConfig{Issuer: testIssuer, JWKSURL: "http://127.0.0.1:1/jwks.json", Now: (&clock{t: t0}).Now,
		RefetchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := offline.LoadJWKS(*kept.Load()); err != nil {
		t.Fatal(err)
	}
	if _, err := offline.Verify(context.Background(), mint(t, jwt.SigningMethodEdDSA, k.priv, k.kid, goodClaims()), testDevice); err != nil {
		t.Errorf("Verify with loaded keys: %v", err)
	}
	for name, doc := range map[string]string{
		"not json":  `{"keys":`,
		"no keys":   `{}`,
		"no usable": `{"keys":[{"kty":"oct","kid":"x","k":"c2VjcmV0"}]}`,
	} {
		if err := offline.LoadJWKS([]byte(doc)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if !offline.HasKeys() {
		t.Error("a bad document dropped the loaded keys")
	}
}
