// Package authjwt authenticates callers of the platform's HTTP APIs with
// JWTs carrying a role, and answers refusals as RFC 7807 problems.
//
// Tokens are HS256 with a platform secret for now (service-to-service and
// operator consoles); the role says what a caller may do:
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
	"errors"
	"fmt"
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
)

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
	secret []byte
	now    func() time.Time
}

const issuer = "vnpass"

// New needs a secret of at least 32 bytes.
func New(secret []byte, now func() time.Time) (*Issuer, error) {
	if len(secret) < 32 {
		return nil, errors.New("authjwt: secret must be at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	return &Issuer{secret: secret, now: now}, nil
}

// Issue signs a token for subject with role, valid for ttl.
func (is *Issuer) Issue(subject string, role Role, ttl time.Duration) (string, error) {
	return is.IssueFor(subject, role, "", ttl)
}

// IssueFor is Issue with an operator scope ("" for none).
func (is *Issuer) IssueFor(subject string, role Role, operator string, ttl time.Duration) (string, error) {
	now := is.now()
	c := Claims{Role: role, Operator: operator, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: issuer, Subject: subject,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(is.secret)
}

// IssueCommittee signs a committee token for subject scoped to city.
func (is *Issuer) IssueCommittee(subject, city string, ttl time.Duration) (string, error) {
	if city == "" {
		return "", errors.New("authjwt: a committee token needs a city")
	}
	now := is.now()
	c := Claims{Role: RoleCommittee, City: city, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: issuer, Subject: subject,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(is.secret)
}

// Parse checks a token: HS256 only, our issuer, not expired, a known role.
func (is *Issuer) Parse(token string) (Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return is.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(issuer), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(is.now))
	if err != nil {
		return Claims{}, err
	}
	switch c.Role {
	case RoleAdmin, RoleOperator, RoleRider:
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
