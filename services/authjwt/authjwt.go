// Package authjwt authenticates callers of the platform's HTTP APIs with
// JWTs carrying a role, and answers refusals as RFC 7807 problems.
//
// Tokens are HS256 (service-to-service and operator consoles), signed with
// the first key of a keyring (NewKeyring) and verified with the key of the
// ring that their header's kid names: a token without a kid, or naming a
// key not in the ring, is refused, and no other algorithm is accepted.
// Rotation adds a key as verify-only, makes it the signing key, and drops
// the old one once every token it signed has expired: no token lives longer
// than MaxTokenLife. The role says what a caller may do:
// admin (everything), operator (read accounts), rider (only its own account,
// sub = its VNeID subject), committee (a People's Committee: only its own
// city's exports, claim "city").
//
// A rider's token is VNeID-issued in this sense: the VNeID app exchanges the
// citizen's VNeID login with vnpass for it, and its subject is the
// pseudonymous subject VNeID asserts at the gates (never the CCCD number).
// Until that exchange runs against the real VNeID, `vnpass-fare token -role
// rider -sub <subject>` signs one in development.
package authjwt

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
)

// Role of a caller.
type Role string

const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleRider    Role = "rider"
	// RoleCommittee is a People's Committee downloading its city's exports
	// (Claims.City names the city).
	RoleCommittee Role = "committee"
	// RoleService is another vnpass service calling this one (vnpass-fleet
	// reading the deny list and a station's rail tickets): good for
	// ServicePaths only, denied everywhere else.
	RoleService Role = "service"
)

// ServicePaths are the only paths a service token may call (GET).
var ServicePaths = []string{"/v1/deny-list", "/v1/rail/tickets"}

// Claims of a platform token.
type Claims struct {
	Role Role `json:"role"`
	// Operator scopes an operator's token to one operator's lines and lots
	// (the fare data's networks.operator_id, the parking data's
	// lots.operator_id). Optional: tokens issued before it have none, and
	// APIs that need a scope refuse an operator token without one.
	Operator string `json:"operator,omitempty"`
	// City scopes a committee token to one city ("hanoi", "hcmc"); tokens
	// without it parse as before.
	City string `json:"city,omitempty"`
	jwt.RegisteredClaims
}

// Issuer signs and checks platform tokens.
type Issuer struct {
	sign Key               // signs every token issued
	keys map[string][]byte // kid -> secret: verifies tokens naming it
	ids  []string          // the ring's kids, signing key first
	now  func() time.Time
}

const issuer = "vnpass"

// Key is one HMAC key of the keyring. ID goes in the header (kid) of
// every token it signs.
type Key struct {
	ID     string
	Secret []byte
}

// DefaultKeyID is the kid of the single key New makes from one secret:
// VNPASS_API_SECRET=s is the keyring VNPASS_API_SECRETS=k0:s, so a service
// configured either way accepts the other's tokens.
const DefaultKeyID = "k0"

// MaxTokenLife bounds a token's life (exp - iat): Issue refuses a longer
// ttl and Parse a token that claims one. It is how long a retired key must
// stay in the ring for verification before it can be dropped.
const MaxTokenLife = 7 * 24 * time.Hour

// ErrUnknownKey is a token whose header names no key of the ring (or none).
var ErrUnknownKey = errors.New("authjwt: token signed with no key of the ring")

// New is NewKeyring with the one key DefaultKeyID: secret. The secret
// must be at least 32 bytes.
func New(secret []byte, now func() time.Time) (*Issuer, error) {
	return NewKeyring([]Key{{ID: DefaultKeyID, Secret: secret}}, now)
}

// NewKeyring makes an Issuer that signs with keys[0] and accepts tokens
// signed by any of keys. Key ids are 1-32 characters of [A-Za-z0-9._-],
// each once; secrets are at least 32 bytes, each once.
func NewKeyring(keys []Key, now func() time.Time) (*Issuer, error) {
	if len(keys) == 0 {
		return nil, errors.New("authjwt: no key")
	}
	is := &Issuer{sign: keys[0], keys: make(map[string][]byte, len(keys)), now: now}
	seen := make(map[string]string, len(keys))
	for _, k := range keys {
		if !validKeyID(k.ID) {
			return nil, fmt.Errorf("authjwt: key id %q: want 1-32 characters of A-Z a-z 0-9 . _ -", k.ID)
		}
		if len(k.Secret) < 32 {
			return nil, fmt.Errorf("authjwt: secret must be at least 32 bytes (key %s)", k.ID)
		}
		if _, dup := is.keys[k.ID]; dup {
			return nil, fmt.Errorf("authjwt: key id %s listed twice", k.ID)
		}
		if other, dup := seen[string(k.Secret)]; dup {
			return nil, fmt.Errorf("authjwt: keys %s and %s have the same secret", other, k.ID)
		}
		seen[string(k.Secret)] = k.ID
		is.keys[k.ID] = k.Secret
		is.ids = append(is.ids, k.ID)
	}
	if is.now == nil {
		is.now = time.Now
	}
	return is, nil
}

// ParseKeys reads a keyring from its configuration form,
// "kid1:secret1,kid0:secret0": comma-separated kid:secret pairs, the
// signing key first. A secret may contain ':' but not ','.
func ParseKeys(spec string) ([]Key, error) {
	var keys []Key
	for i, pair := range strings.Split(spec, ",") {
		id, secret, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok || id == "" || secret == "" {
			// Never quote the pair: it holds a secret.
			return nil, fmt.Errorf("authjwt: key %d of the ring is not kid:secret", i+1)
		}
		keys = append(keys, Key{ID: id, Secret: []byte(secret)})
	}
	return keys, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// KeyIDs lists the ring's key ids, the signing key's first (for the
// start-up log: ids, never secrets).
func (is *Issuer) KeyIDs() []string { return append([]string(nil), is.ids...) }

// Issue signs a token for subject with role, valid for ttl.
func (is *Issuer) Issue(subject string, role Role, ttl time.Duration) (string, error) {
	return is.IssueFor(subject, role, "", ttl)
}

// IssueFor is Issue with an operator scope ("" for none).
func (is *Issuer) IssueFor(subject string, role Role, operator string, ttl time.Duration) (string, error) {
	return is.issue(Claims{Role: role, Operator: operator}, subject, ttl)
}

// IssueCommittee signs a committee token for subject scoped to city.
func (is *Issuer) IssueCommittee(subject, city string, ttl time.Duration) (string, error) {
	if city == "" {
		return "", errors.New("authjwt: a committee token needs a city")
	}
	return is.issue(Claims{Role: RoleCommittee, City: city}, subject, ttl)
}

func (is *Issuer) issue(c Claims, subject string, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > MaxTokenLife {
		return "", fmt.Errorf("authjwt: token life %s: want more than 0 and at most %s", ttl, MaxTokenLife)
	}
	now := is.now()
	c.RegisteredClaims = jwt.RegisteredClaims{
		Issuer: issuer, Subject: subject,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	t.Header["kid"] = is.sign.ID
	return t.SignedString(is.sign.Secret)
}

// key finds the secret of the key a token names. The algorithm is checked
// here as well as by the parser's method list: the secret is an HMAC key
// and must never verify anything else.
func (is *Issuer) key(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, fmt.Errorf("authjwt: algorithm %v not accepted", t.Header["alg"])
	}
	kid, _ := t.Header["kid"].(string)
	secret, ok := is.keys[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	return secret, nil
}

// Parse checks a token: HS256 only, signed by a key of the ring that its
// kid names, our issuer, issued and expiring at most MaxTokenLife apart,
// not expired, a known role.
func (is *Issuer) Parse(token string) (Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, is.key,
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(issuer), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(is.now))
	if err != nil {
		return Claims{}, err
	}
	if c.IssuedAt == nil {
		return Claims{}, errors.New("authjwt: token has no iat")
	}
	if c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxTokenLife {
		return Claims{}, fmt.Errorf("authjwt: token life over %s", MaxTokenLife)
	}
	switch c.Role {
	case RoleAdmin, RoleOperator, RoleRider, RoleService:
	case RoleCommittee:
		if c.City == "" {
			return Claims{}, errors.New("a committee token needs a city")
		}
	default:
		return Claims{}, fmt.Errorf("unknown role %q", c.Role)
	}
	return c, nil
}

const claimsKey = "vnpass.claims"

// CommitteePaths is the only path prefix a committee token may call.
const CommitteePaths = "/v1/exports/"

// Middleware requires a valid bearer token on every request it guards.
func (is *Issuer) Middleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		h := c.Get(fiber.HeaderAuthorization)
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || tok == "" {
			return Problem(c, fiber.StatusUnauthorized, "unauthenticated", "A bearer token is required.")
		}
		claims, err := is.Parse(tok)
		if err != nil {
			return Problem(c, fiber.StatusUnauthorized, "unauthenticated", "The token is not valid.")
		}
		// Handlers written before the committee role treat every caller
		// that is not a rider as staff: a committee token is good for the
		// exports only, denied everywhere else by default.
		if claims.Role == RoleCommittee && !strings.HasPrefix(c.Path(), CommitteePaths) {
			return Problem(c, fiber.StatusForbidden, "forbidden", "A committee token may only download exports.")
		}
		if claims.Role == RoleService && (c.Method() != fiber.MethodGet || !slices.Contains(ServicePaths, c.Path())) {
			return Problem(c, fiber.StatusForbidden, "forbidden", "A service token may only read the deny list and rail tickets.")
		}
		c.Locals(claimsKey, claims)
		return c.Next()
	}
}

// Caller returns the verified claims of the request.
func Caller(c *fiber.Ctx) Claims {
	cl, _ := c.Locals(claimsKey).(Claims)
	return cl
}

// Problem writes an RFC 7807 problem document. Detail must not reveal
// internals or personal data.
func Problem(c *fiber.Ctx, status int, kind, detail string) error {
	return c.Status(status).JSON(fiber.Map{
		"type":   "https://vnpass.vn/problems/" + kind,
		"title":  kind,
		"status": status,
		"detail": detail,
	}, "application/problem+json")
}

// ScrapeToken guards an endpoint read by machines (Prometheus' /metrics)
// with a fixed bearer token: a request without "Authorization: Bearer
// <token>" gets 401. An empty token lets every request through (a
// development machine on loopback); services warn when they run so.
func ScrapeToken(token string) fiber.Handler {
	want := []byte("Bearer " + token)
	return func(c *fiber.Ctx) error {
		if token == "" {
			return c.Next()
		}
		got := []byte(c.Get(fiber.HeaderAuthorization))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
			return Problem(c, fiber.StatusUnauthorized, "unauthorized", "This endpoint needs the scrape token (VNPASS_METRICS_TOKEN).")
		}
		return c.Next()
	}
}

// Loopback says whether a listen address ("host:port") is reachable only
// from this machine.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
