package vneid

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
)

// verifyKey is a published public key with the one algorithm it may verify.
// The pinning is explicit: an Ed25519 key verifies EdDSA only, an RSA or EC
// key only the alg its JWK names. Symmetric (oct) keys are never accepted, so
// HS* can never be verified with public key bytes.
type verifyKey struct {
	alg string
	key any // ed25519.PublicKey, *rsa.PublicKey or *ecdsa.PublicKey
}

// supportedAlgs is every alg some key type may be pinned to; tokens with any
// other alg ("none", HS*) are refused before a key is even looked up.
var supportedAlgs = []string{"EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

var ecCurves = map[string]struct {
	alg   string
	curve elliptic.Curve
	size  int
}{
	"P-256": {"ES256", elliptic.P256(), 32},
	"P-384": {"ES384", elliptic.P384(), 48},
	"P-521": {"ES512", elliptic.P521(), 66},
}

const minRSABits = 2048

// jwk holds the members of a JSON Web Key this adapter reads.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
}

var errUnusableKey = errors.New("unusable key")

// parseJWK turns one JWK into a pinned verification key.
func parseJWK(k jwk) (verifyKey, error) {
	if k.Use != "" && k.Use != "sig" {
		return verifyKey{}, fmt.Errorf("%w: use %q", errUnusableKey, k.Use)
	}
	if k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify") {
		return verifyKey{}, fmt.Errorf("%w: key_ops lack verify", errUnusableKey)
	}
	b64 := base64.RawURLEncoding
	switch k.Kty {
	case "OKP":
		if k.Crv != "Ed25519" {
			return verifyKey{}, fmt.Errorf("%w: OKP curve %q", errUnusableKey, k.Crv)
		}
		if k.Alg != "" && k.Alg != "EdDSA" && k.Alg != "Ed25519" {
			return verifyKey{}, fmt.Errorf("%w: alg %q for an Ed25519 key", errUnusableKey, k.Alg)
		}
		x, err := b64.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return verifyKey{}, fmt.Errorf("%w: bad Ed25519 x", errUnusableKey)
		}
		return verifyKey{alg: "EdDSA", key: ed25519.PublicKey(x)}, nil
	case "RSA":
		switch k.Alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		default:
			return verifyKey{}, fmt.Errorf("%w: RSA key must name RS*/PS* alg, has %q", errUnusableKey, k.Alg)
		}
		n, err1 := b64.DecodeString(k.N)
		e, err2 := b64.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return verifyKey{}, fmt.Errorf("%w: bad RSA n/e", errUnusableKey)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
			return verifyKey{}, fmt.Errorf("%w: weak RSA key", errUnusableKey)
		}
		return verifyKey{alg: k.Alg, key: pub}, nil
	case "EC":
		c, ok := ecCurves[k.Crv]
		if !ok || k.Alg != c.alg {
			return verifyKey{}, fmt.Errorf("%w: EC key must name the alg of its curve, has %q/%q", errUnusableKey, k.Crv, k.Alg)
		}
		x, err1 := b64.DecodeString(k.X)
		y, err2 := b64.DecodeString(k.Y)
		if err1 != nil || err2 != nil || len(x) != c.size || len(y) != c.size {
			return verifyKey{}, fmt.Errorf("%w: bad EC point", errUnusableKey)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c.curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return verifyKey{}, fmt.Errorf("%w: EC point: %v", errUnusableKey, err)
		}
		return verifyKey{alg: c.alg, key: pub}, nil
	default:
		return verifyKey{}, fmt.Errorf("%w: kty %q", errUnusableKey, k.Kty)
	}
}

// parseJWKS keeps every usable key with a kid. A kid published twice is
// ambiguous and dropped entirely.
func parseJWKS(data []byte) (map[string]verifyKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode JWKS: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New("decode JWKS: no keys member")
	}
	keys := make(map[string]verifyKey, len(doc.Keys))
	dup := make(map[string]bool)
	for _, raw := range doc.Keys {
		var k jwk
		if json.Unmarshal(raw, &k) != nil || k.Kid == "" || len(k.Kid) > maxClaimLen {
			continue
		}
		vk, err := parseJWK(k)
		if err != nil {
			continue
		}
		if _, seen := keys[k.Kid]; seen || dup[k.Kid] {
			dup[k.Kid] = true
			delete(keys, k.Kid)
			continue
		}
		keys[k.Kid] = vk
	}
	return keys, nil
}

// fetchJWKS GETs and parses the provider's key set, bounded in time and
// size. It returns the raw document too, for OnJWKS.
func (v *Verifier) fetchJWKS(ctx context.Context) (map[string]verifyKey, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.cfg.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, nil, fmt.Errorf("JWKS status %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, v.cfg.MaxJWKSBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read JWKS: %w", err)
	}
	if int64(len(data)) > v.cfg.MaxJWKSBytes {
		return nil, nil, fmt.Errorf("JWKS larger than %d bytes", v.cfg.MaxJWKSBytes)
	}
	keys, err := parseJWKS(data)
	return keys, data, err
}
