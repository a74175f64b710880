package partnerhttp

import (
	"crypto/ed25519"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/services/authjwt"
)

// Partner tokens.
//
// A partner signs a JWT for its calls with its registered Ed25519 key
// (alg EdDSA): iss = its partner id, aud = Audience, iat and exp no more
// than MaxTokenLife apart (10 minutes by default), scope = the scopes it
// uses, space-separated, each among those it registered. Asymmetric keys
// rather than a client secret: the platform stores only public keys (a
// leaked database signs nothing), the partner's private key never crosses
// the network, and the audit trail is attributable to the key holder.
// Tokens are bearer tokens over TLS for their short life; they carry no
// rider data.

// PartnerClaims are the claims of a partner token.
type PartnerClaims struct {
	Scope string `json:"scope"`
	jwt.RegisteredClaims
}

// SignPartnerToken makes a token as a partner would (for tests, tools and
// partners' reference code).
func SignPartnerToken(key ed25519.PrivateKey, partnerID string, scopes []partner.Scope, iat time.Time, ttl time.Duration) (string, error) {
	return SignPartnerTokenKID(key, "", partnerID, scopes, iat, ttl)
}

// SignPartnerTokenKID makes a token as a partner would, naming the key
// that signs it by kid in the header ("" for none: accepted only while the
// partner has one active key).
func SignPartnerTokenKID(key ed25519.PrivateKey, kid, partnerID string, scopes []partner.Scope, iat time.Time, ttl time.Duration) (string, error) {
	ss := make([]string, len(scopes))
	for i, s := range scopes {
		ss[i] = string(s)
	}
	c := PartnerClaims{Scope: strings.Join(ss, " "), RegisteredClaims: jwt.RegisteredClaims{
		Issuer: partnerID, Audience: jwt.ClaimStrings{Audience},
		IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
	}}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	return t.SignedString(key)
}

const partnerKey = "partnerhttp.partner"

func partnerOf(c *fiber.Ctx) partner.Partner {
	p, _ := c.Locals(partnerKey).(partner.Partner)
	return p
}

var errToken = errors.New("token not valid")

// partner authenticates a partner's call needing scope, and applies the
// partner's rate limit. Every failure answers the same 401: which check
// failed is the partner's to find out from its own signing code, not for
// anyone holding a token to probe.
func (a *API) partner(scope partner.Scope) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || tok == "" {
			return problem(c, fiber.StatusUnauthorized, "unauthenticated", "A valid token is required.")
		}
		var p partner.Partner
		var claims PartnerClaims
		var storeErr error
		_, err := jwt.ParseWithClaims(tok, &claims, func(t *jwt.Token) (any, error) {
			iss, _ := t.Claims.GetIssuer()
			var err error
			if p, err = a.cfg.Store.Partner(c.UserContext(), iss); err != nil {
				if !errors.Is(err, partner.ErrNotFound) {
					storeErr = err
				}
				return nil, errToken
			}
			if !p.Active {
				return nil, errToken
			}
			kid := ""
			if v, present := t.Header["kid"]; present {
				s, ok := v.(string)
				if !ok || s == "" {
					return nil, errToken
				}
				kid = s
			}
			key, ok := partner.VerifyingKey(p.Keys, kid)
			if !ok {
				return nil, errToken
			}
			return key, nil
		}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience(Audience), jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(), jwt.WithTimeFunc(a.cfg.Now), jwt.WithLeeway(30*time.Second))
		if err == nil && (claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > a.cfg.MaxTokenLife) {
			err = errToken
		}
		if storeErr != nil {
			return a.fail(c, storeErr)
		}
		if err != nil {
			return problem(c, fiber.StatusUnauthorized, "unauthenticated", "A valid token is required.")
		}
		cl := callOf(c)
		cl.actorKind, cl.actor = "partner", p.ID
		if wait, ok := a.rates.take(p.ID, p.RatePerMin); !ok {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return problem(c, fiber.StatusTooManyRequests, "rate-limited", "Too many requests; retry after the time given.")
		}
		if !slices.Contains(strings.Fields(claims.Scope), string(scope)) || !p.Has(scope) {
			return problem(c, fiber.StatusForbidden, "insufficient-scope", "The token does not carry the scope "+string(scope)+".")
		}
		c.Locals(partnerKey, p)
		return c.Next()
	}
}

// platform authenticates the platform's own token of a role (a rider from
// the VNeID app, an admin).
func (a *API) platform(role authjwt.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		if !ok || tok == "" {
			return problem(c, fiber.StatusUnauthorized, "unauthenticated", "A valid token is required.")
		}
		claims, err := a.cfg.Auth.Parse(tok)
		if err != nil {
			return problem(c, fiber.StatusUnauthorized, "unauthenticated", "A valid token is required.")
		}
		cl := callOf(c)
		cl.actorKind, cl.actor = string(claims.Role), claims.Subject
		if claims.Role == authjwt.RoleRider {
			cl.actor, cl.subject = "", claims.Subject
		}
		if claims.Role != role {
			return problem(c, fiber.StatusForbidden, "forbidden", "This token may not do this.")
		}
		c.Locals(platformKey, claims)
		return c.Next()
	}
}

const platformKey = "partnerhttp.platform"

func platformOf(c *fiber.Ctx) authjwt.Claims {
	cl, _ := c.Locals(platformKey).(authjwt.Claims)
	return cl
}

// limiter is a token bucket per partner: up to its rate per minute, in
// bursts of up to a minute's worth. Per replica: with n replicas behind a
// balancer a partner gets up to n times its rate, which the registered
// rate allows for.
type limiter struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, buckets: map[string]*bucket{}}
}

// take spends one token of id's bucket, or says how long to wait for one.
func (l *limiter) take(id string, perMin int) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	rate := float64(perMin) / 60 // tokens per second
	b := l.buckets[id]
	if b == nil {
		b = &bucket{tokens: float64(perMin), at: now}
		l.buckets[id] = b
	}
	b.tokens = math.Min(float64(perMin), b.tokens+now.Sub(b.at).Seconds()*rate)
	b.at = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) / rate * float64(time.Second)), false
	}
	b.tokens--
	return 0, true
}
