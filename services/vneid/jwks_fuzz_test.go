package vneid

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzParseJWKS: whatever the provider's JWKS endpoint (or a gate's kept
// copy on disk) holds, parsing never panics, and a key it keeps is pinned
// to one supported algorithm.
func FuzzParseJWKS(f *testing.F) {
	k := newTestKey(f)
	f.Add(jsonMarshal(f, map[string]any{"keys": []any{k.jwk()}}))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","alg":"RS256","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"e","crv":"P-256","alg":"ES256","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","kid":"h","alg":"HS256","k":"c2VjcmV0"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := parseJWKS(doc)
		if err != nil {
			return
		}
		for kid, vk := range keys {
			ok := false
			for _, a := range supportedAlgs {
				ok = ok || a == vk.alg
			}
			if !ok || kid == "" || vk.key == nil {
				t.Fatalf("kept kid %q pinned to %q (key %T)", kid, vk.alg, vk.key)
			}
		}
		// A verifier loaded with it refuses a token signed by no key of it.
		v, err := NewVerifier(VerifierConfig{Issuer: testIssuer, JWKSURL: "http://127.0.0.1:1/jwks", Now: (&clock{t: t0}).Now})
		if err != nil {
			t.Fatal(err)
		}
		if v.LoadJWKS(doc) != nil {
			return
		}
		if _, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodEdDSA, newTestKey(t).priv, k.kid, goodClaims()), testDevice); err == nil {
			t.Fatal("a token of an unknown key verified")
		}
	})
}
