package vneid

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerify is the gate hot path: keys cached, one EdDSA assertion.
func BenchmarkVerify(b *testing.B) {
	v, tok := benchSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok, testDevice); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	v, tok := benchSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, tok, testDevice); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchSetup(b *testing.B) (*Verifier, string) {
	b.Helper()
	k := newTestKey(b)
	v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, JWKSURL: "http://127.0.0.1:1/jwks", Now: (&clock{t: t0}).Now})
	if err != nil {
		b.Fatal(err)
	}
	keys := map[string]verifyKey{k.kid: {alg: "EdDSA", key: k.pub()}}
	v.keys.Store(&keys) // no network in the benchmark
	return v, mint(b, jwt.SigningMethodEdDSA, k.priv, k.kid, goodClaims())
}
