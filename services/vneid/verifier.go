// Package vneid adapts VNeID (or any provider speaking its protocol, such as
// the simulator in services/vneidsim) to the platform: a Verifier that checks
// face-match assertions against the provider's published JWKS, and a
// MatchClient gates use to obtain assertions.
package vneid

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vnpass/vnpass/identity"
)

// Defaults for VerifierConfig.
const (
	DefaultLeeway          = 5 * time.Second
	MaxLeeway              = time.Minute
	DefaultRefetchInterval = 10 * time.Second
	DefaultRefreshInterval = 5 * time.Minute
	DefaultFetchTimeout    = 5 * time.Second
	DefaultMaxJWKSBytes    = 64 << 10
	DefaultMaxLifetime     = 10 * time.Minute
	DefaultMinLevel        = 2
)

const (
	maxTokenLen = 8 << 10 // a face-match assertion is a few hundred bytes
	maxClaimLen = 256     // sub, jti, kid
	maxAge      = 150
)

// VerifierConfig says which provider to trust. Issuer and JWKSURL are required.
type VerifierConfig struct {
	Issuer  string // expected iss, exactly
	JWKSURL string // http(s) URL of the provider's JWKS
	HTTP    *http.Client
	// Leeway tolerates clock skew on exp, nbf and iat. Default DefaultLeeway, at most MaxLeeway.
	Leeway time.Duration
	// RefetchInterval is the least time between two JWKS fetches caused by
	// unknown kids, so forged kids cannot make the verifier hammer the provider.
	RefetchInterval time.Duration
	// RefreshInterval is how often Run refetches the JWKS so removed keys stop verifying.
	RefreshInterval time.Duration
	FetchTimeout    time.Duration
	MaxJWKSBytes    int64
	// MaxLifetime bounds exp-iat: the replay store keeps each jti until exp.
	MaxLifetime time.Duration
	// MinLevel is the least VNeID account level accepted. Default 2 (verified biometrics).
	MinLevel int
	Now      func() time.Time
	// OnJWKS, if set, is handed the raw JWKS document after every fetch
	// that yielded keys, so that a gate can keep it on disk and verify
	// offline after a restart (LoadJWKS). It runs on the fetching
	// goroutine, after the keys are in use; it must not call back into the
	// Verifier's fetch methods.
	OnJWKS func(doc []byte)
}

func (c *VerifierConfig) ensureDefaults() error {
	if c.Issuer == "" {
		return errors.New("vneid: issuer is required")
	}
	if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("vneid: JWKS URL %q is not an absolute http(s) URL", c.JWKSURL)
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{}
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.Leeway < 0 || c.Leeway > MaxLeeway {
		return fmt.Errorf("vneid: leeway %s outside [0, %s]", c.Leeway, MaxLeeway)
	}
	if c.RefetchInterval <= 0 {
		c.RefetchInterval = DefaultRefetchInterval
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.FetchTimeout <= 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.MaxJWKSBytes <= 0 {
		c.MaxJWKSBytes = DefaultMaxJWKSBytes
	}
	if c.MaxLifetime <= 0 {
		c.MaxLifetime = DefaultMaxLifetime
	}
	if c.MinLevel <= 0 {
		c.MinLevel = DefaultMinLevel
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Verifier implements identity.Verifier. Known keys are read lock-free, so
// Verify never fetches on the hot path; only an unknown kid may trigger a
// fetch, at most once per RefetchInterval.
type Verifier struct {
	cfg     VerifierConfig
	parser  *jwt.Parser
	opts    []jwt.ParserOption // parser's options but the clock, for VerifyAt
	keyFunc jwt.Keyfunc        // bound once so Verify does not allocate a method value

	keys atomic.Pointer[map[string]verifyKey]

	fetchMu     sync.Mutex // one fetch at a time
	lastAttempt time.Time  // guarded by fetchMu
}

var _ identity.VerifierAt = (*Verifier)(nil)

// NewVerifier validates cfg. It does not fetch: call Refresh at start-up to
// fail fast, or let the first Verify fetch.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if err := cfg.ensureDefaults(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg}
	v.opts = []jwt.ParserOption{
		jwt.WithValidMethods(supportedAlgs),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithStrictDecoding(),
	}
	v.parser = jwt.NewParser(append(v.opts, jwt.WithTimeFunc(cfg.Now))...)
	v.keyFunc = v.lookupKey
	empty := map[string]verifyKey{}
	v.keys.Store(&empty)
	return v, nil
}

// Refresh fetches the JWKS now and replaces the cached keys, so keys the
// provider removed stop verifying. On error the cached keys are kept.
func (v *Verifier) Refresh(ctx context.Context) error {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	return v.refreshLocked(ctx)
}

func (v *Verifier) refreshLocked(ctx context.Context) error {
	v.lastAttempt = v.cfg.Now()
	keys, doc, err := v.fetchJWKS(ctx)
	if err != nil {
		return fmt.Errorf("vneid: refresh JWKS from %s: %w", v.cfg.JWKSURL, err)
	}
	v.keys.Store(&keys)
	if v.cfg.OnJWKS != nil && len(keys) > 0 {
		v.cfg.OnJWKS(doc)
	}
	return nil
}

// LoadJWKS replaces the cached keys with those of a JWKS document kept
// from an earlier fetch (OnJWKS), so that a gate restarted without network
// can verify assertions. A document without a single usable key is refused
// and the cached keys are kept.
func (v *Verifier) LoadJWKS(doc []byte) error {
	if int64(len(doc)) > v.cfg.MaxJWKSBytes {
		return fmt.Errorf("vneid: load JWKS: larger than %d bytes", v.cfg.MaxJWKSBytes)
	}
	keys, err := parseJWKS(doc)
	if err != nil {
		return fmt.Errorf("vneid: load JWKS: %w", err)
	}
	if len(keys) == 0 {
		return errors.New("vneid: load JWKS: no usable key")
	}
	v.keys.Store(&keys)
	return nil
}

// HasKeys reports whether the verifier holds any key to verify with.
func (v *Verifier) HasKeys() bool { return len(*v.keys.Load()) > 0 }

// Run refreshes the JWKS every RefreshInterval until ctx ends. Failures keep
// the cached keys; onError (may be nil) hears about them.
func (v *Verifier) Run(ctx context.Context, onError func(error)) {
	t := time.NewTicker(v.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := v.Refresh(ctx); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}

// KeyIDs lists the cached kids (for health checks and tests).
func (v *Verifier) KeyIDs() []string {
	m := *v.keys.Load()
	ids := make([]string, 0, len(m))
	for kid := range m {
		ids = append(ids, kid)
	}
	return ids
}

var errRefetchLimited = errors.New("JWKS refetch rate-limited")

// refreshForKid fetches the JWKS because kid is unknown, unless another caller
// just did (then kid may be known now) or the last fetch was too recent.
func (v *Verifier) refreshForKid(ctx context.Context, kid string) error {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	if _, ok := (*v.keys.Load())[kid]; ok {
		return nil
	}
	if !v.lastAttempt.IsZero() && v.cfg.Now().Sub(v.lastAttempt) < v.cfg.RefetchInterval {
		return errRefetchLimited
	}
	return v.refreshLocked(ctx)
}

type unknownKidError struct{ kid string }

func (e *unknownKidError) Error() string { return fmt.Sprintf("unknown kid %q", e.kid) }

var (
	errNoKid   = errors.New("kid header missing")
	errBadType = errors.New("typ header is not JWT")
	errCrit    = errors.New("crit header not understood")
	errAlgKey  = errors.New("alg does not match the key's pinned alg")
)

// lookupKey is the jwt.Keyfunc: kid required, alg must be the one pinned to that key.
func (v *Verifier) lookupKey(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" || len(kid) > maxClaimLen {
		return nil, errNoKid
	}
	if typ, ok := t.Header["typ"]; ok {
		if s, _ := typ.(string); !strings.EqualFold(s, "JWT") {
			return nil, errBadType
		}
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, errCrit
	}
	k, ok := (*v.keys.Load())[kid]
	if !ok {
		return nil, &unknownKidError{kid: kid}
	}
	if t.Method.Alg() != k.alg {
		return nil, errAlgKey
	}
	return k.key, nil
}

// claims is the assertion payload. Pointers tell a missing claim from zero.
type claims struct {
	jwt.RegisteredClaims
	Lvl *int `json:"lvl"`
	Age *int `json:"age"`
	Dis bool `json:"dis"`
	Mer bool `json:"mer"`
}

// Verify checks token as presented at device. Every failure wraps one of the
// identity.ErrAssertion* sentinels. Replay is the caller's job (see identity.Verifier).
func (v *Verifier) Verify(ctx context.Context, token string, device string) (identity.Assertion, error) {
	return v.verify(ctx, token, device, v.parser)
}

// VerifyAt is Verify with the time window (exp, nbf, iat, with the leeway)
// judged at instant at instead of now: a tap decided offline at a gate is
// verified as of its capture time, when it reaches the cloud hours later.
// Everything else is checked as Verify checks it, with today's keys: a key
// the provider has withdrawn since no longer verifies.
func (v *Verifier) VerifyAt(ctx context.Context, token string, device string, at time.Time) (identity.Assertion, error) {
	if at.IsZero() {
		return identity.Assertion{}, fmt.Errorf("vneid: verify: %w: no instant to verify at", identity.ErrAssertionInvalid)
	}
	p := jwt.NewParser(append(v.opts[:len(v.opts):len(v.opts)], jwt.WithTimeFunc(func() time.Time { return at }))...)
	return v.verify(ctx, token, device, p)
}

func (v *Verifier) verify(ctx context.Context, token string, device string, parser *jwt.Parser) (identity.Assertion, error) {
	if len(token) > maxTokenLen {
		return identity.Assertion{}, fmt.Errorf("vneid: verify: %w: token longer than %d bytes", identity.ErrAssertionInvalid, maxTokenLen)
	}
	var c claims
	_, err := parser.ParseWithClaims(token, &c, v.keyFunc)
	var uk *unknownKidError
	if err != nil && errors.As(err, &uk) {
		if rerr := v.refreshForKid(ctx, uk.kid); rerr != nil {
			return identity.Assertion{}, fmt.Errorf("vneid: verify: %w: unknown kid %q (%v)", identity.ErrAssertionInvalid, uk.kid, rerr)
		}
		c = claims{}
		_, err = parser.ParseWithClaims(token, &c, v.keyFunc)
	}
	if err != nil {
		return identity.Assertion{}, fmt.Errorf("vneid: verify: %w: %v", classify(err), err)
	}
	return v.check(&c, device)
}

// classify maps a golang-jwt error to an identity sentinel. Anything that is
// not purely a time-window problem is invalid.
func classify(err error) error {
	switch {
	case !errors.Is(err, jwt.ErrTokenInvalidClaims),
		errors.Is(err, jwt.ErrTokenInvalidIssuer),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing),
		errors.Is(err, jwt.ErrInvalidType):
		return identity.ErrAssertionInvalid
	case errors.Is(err, jwt.ErrTokenExpired):
		return identity.ErrAssertionExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return identity.ErrAssertionNotYetValid
	default:
		return identity.ErrAssertionInvalid
	}
}

// check applies the rules golang-jwt does not: signature, issuer and time
// window are already verified here.
func (v *Verifier) check(c *claims, device string) (identity.Assertion, error) {
	invalid := func(why string) (identity.Assertion, error) {
		return identity.Assertion{}, fmt.Errorf("vneid: verify: %w: %s", identity.ErrAssertionInvalid, why)
	}
	switch {
	case c.IssuedAt == nil:
		return invalid("iat missing")
	case c.ExpiresAt.Sub(c.IssuedAt.Time) > v.cfg.MaxLifetime:
		return invalid("lifetime longer than allowed")
	case !c.ExpiresAt.After(c.IssuedAt.Time):
		return invalid("exp not after iat")
	case !saneID(c.Subject):
		return invalid("sub missing or malformed")
	case !saneID(c.ID):
		return invalid("jti missing or malformed")
	case c.Lvl == nil || *c.Lvl < v.cfg.MinLevel:
		return invalid("account level missing or too low")
	case c.Age == nil || *c.Age < 0 || *c.Age > maxAge:
		return invalid("age missing or out of range")
	}
	// The assertion is bound to exactly one device: a multi-audience token is
	// not bound to this gate alone.
	if device == "" || len(c.Audience) != 1 || c.Audience[0] != device {
		return identity.Assertion{}, fmt.Errorf("vneid: verify: %w: aud %q, device %q", identity.ErrAssertionWrongDevice, []string(c.Audience), device)
	}
	return identity.Assertion{
		Subject:     c.Subject,
		JTI:         c.ID,
		Audience:    device,
		IssuedAt:    c.IssuedAt.Time,
		ExpiresAt:   c.ExpiresAt.Time,
		Level:       *c.Lvl,
		Age:         *c.Age,
		Disabled:    c.Dis,
		Meritorious: c.Mer,
	}, nil
}

// saneID: 1..maxClaimLen printable ASCII, no spaces.
func saneID(s string) bool {
	if s == "" || len(s) > maxClaimLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
