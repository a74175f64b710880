package vneidsim

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"
)

// JWK is an RFC 8037 OKP public key.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKSet is the document served at /.well-known/jwks.json.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

type signingKey struct {
	kid     string
	priv    ed25519.PrivateKey
	created time.Time
}

// newSigningKey derives an Ed25519 key from 32 bytes of s.cfg.Rand (so tests
// can make it deterministic) and names it by its RFC 7638 thumbprint.
func (s *Server) newSigningKey() (signingKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if err := s.readRand(seed); err != nil {
		return signingKey{}, err
	}
	return keyFromSeed(seed, s.cfg.Now().UTC()), nil
}

func keyFromSeed(seed []byte, created time.Time) signingKey {
	priv := ed25519.NewKeyFromSeed(seed)
	return signingKey{kid: thumbprint(priv.Public().(ed25519.PublicKey)), priv: priv, created: created}
}

// thumbprint is the RFC 7638 JWK thumbprint: members in lexical order, no spaces.
func thumbprint(pub ed25519.PublicKey) string {
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (k signingKey) jwk() JWK {
	return JWK{
		Kty: "OKP",
		Crv: "Ed25519",
		X:   base64.RawURLEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey)),
		Kid: k.kid,
		Alg: "EdDSA",
		Use: "sig",
	}
}

// JWKS returns every published key, newest (the signing key) last.
func (s *Server) JWKS() JWKSet {
	s.mu.RLock()
	defer s.mu.RUnlock()
	set := JWKSet{Keys: make([]JWK, 0, len(s.keys))}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	return set
}

// SigningKID is the kid of the key new assertions are signed with.
func (s *Server) SigningKID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys[len(s.keys)-1].kid
}

// Rotate adds a new signing key and signs with it from now on. Older keys stay
// published (so assertions in flight still verify) until RemoveKey.
func (s *Server) Rotate(ctx context.Context) (string, error) {
	k, err := s.newSigningKey()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := append(append([]signingKey(nil), s.keys...), k)
	if err := s.saveKeys(s.secret, keys); err != nil {
		return "", err
	}
	s.keys = keys
	s.log.InfoContext(ctx, "signing key rotated", "kid", k.kid, "published_keys", len(keys))
	return k.kid, nil
}

// RemoveKey unpublishes an old key. The current signing key cannot be removed.
func (s *Server) RemoveKey(ctx context.Context, kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.keys {
		if k.kid != kid {
			continue
		}
		if i == len(s.keys)-1 {
			return fmt.Errorf("%w: %s is the signing key", ErrKeyInUse, kid)
		}
		keys := append(append([]signingKey(nil), s.keys[:i]...), s.keys[i+1:]...)
		if err := s.saveKeys(s.secret, keys); err != nil {
			return err
		}
		s.keys = keys
		s.log.InfoContext(ctx, "signing key removed", "kid", kid, "published_keys", len(keys))
		return nil
	}
	return fmt.Errorf("%w: %s", ErrKeyNotFound, kid)
}
