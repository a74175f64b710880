package vneid

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vnpass/vnpass/identity"
)

// The algorithm is pinned per key and the kid is required, for an RSA key
// too (SECURITY.md, "Forged assertion"): the HMAC/RSA confusion with every
// encoding of the public key as the secret, another RSA algorithm on an
// RS256 key, alg none under a real kid, an empty, oversized or unknown kid.
func TestAlgorithmPinnedAndKidRequired(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	p := newProvider(t)
	p.publishRaw(t, map[string]any{"keys": []any{map[string]string{
		"kty": "RSA", "kid": "rsa", "alg": "RS256", "use": "sig",
		"n": b64(rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(rsaKey.E)).Bytes()),
	}}})
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)})
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	ctx := context.Background()
	v := newTestVerifier(t, p.url(), &clock{t: t0})
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodRS256, rsaKey, "rsa", goodClaims()), testDevice); err != nil {
		t.Fatalf("RS256 on its RS256 key: %v", err)
	}
	noneWithKid := func(kid any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, goodClaims())
		tok.Header["kid"] = kid
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	withKid := func(kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, goodClaims())
		tok.Header["kid"] = kid
		s, err := tok.SignedString(rsaKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for name, tok := range map[string]string{
		"HS256 with the PEM public key":        mint(t, jwt.SigningMethodHS256, pemKey, "rsa", goodClaims()),
		"HS256 with the PKCS#1 PEM public key": mint(t, jwt.SigningMethodHS256, pkcs1, "rsa", goodClaims()),
		"HS256 with the DER public key":        mint(t, jwt.SigningMethodHS256, der, "rsa", goodClaims()),
		"HS256 with the JWK n":                 mint(t, jwt.SigningMethodHS256, []byte(b64(rsaKey.N.Bytes())), "rsa", goodClaims()),
		"HS512 with the PEM public key":        mint(t, jwt.SigningMethodHS512, pemKey, "rsa", goodClaims()),
		"RS512 on an RS256 key":                mint(t, jwt.SigningMethodRS512, rsaKey, "rsa", goodClaims()),
		"PS512 on an RS256 key":                mint(t, jwt.SigningMethodPS512, rsaKey, "rsa", goodClaims()),
		"RS256 by another key, same kid":       mint(t, jwt.SigningMethodRS256, other, "rsa", goodClaims()),
		"alg none under the real kid":          noneWithKid("rsa"),
		"alg none, no kid":                     mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", goodClaims()),
		"no kid":                               mint(t, jwt.SigningMethodRS256, rsaKey, "", goodClaims()),
		"empty kid":                            withKid(""),
		"kid of 257 bytes":                     withKid(strings.Repeat("k", 257)),
		"unknown kid":                          withKid("rsa-2"),
		"kid differing in case":                withKid("RSA"),
	} {
		if _, err := v.Verify(ctx, tok, testDevice); !errors.Is(err, identity.ErrAssertionInvalid) {
			t.Errorf("%s: %v, want refused as invalid", name, err)
		}
	}
}
