// Package partner owns what the platform shares with the transport apps
// that connect to it (ticketing, bus and ride, parking apps): registered
// partners and their permissions, riders' consents to them, and the events
// they are told about. A partner gets nothing about a rider without the
// rider's consent in force for that purpose.
package partner

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Scope is a permission. A call needs it in the partner's registration, in
// the token the partner signed for the call, and (for a rider's data) in
// the rider's consent.
type Scope string

const (
	ScopeTickets  Scope = "tickets"       // bind, change, cancel and read the train tickets it sold
	ScopePasses   Scope = "passes"        // bind, revoke and read the metro passes it sold
	ScopeJourneys Scope = "journeys:read" // read the rider's journeys (from the consent on)
	ScopeCharges  Scope = "charges:read"  // read the rider's charges (from the consent on)
)

// Scopes lists every scope.
var Scopes = []Scope{ScopeTickets, ScopePasses, ScopeJourneys, ScopeCharges}

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return slices.Contains(Scopes, s) }

// Kind of partner.
type Kind string

const (
	KindTicketing Kind = "ticketing"
	KindRide      Kind = "ride"
	KindParking   Kind = "parking"
)

// Partner is a registered transport app.
type Partner struct {
	ID        string
	Name      string
	Kind      Kind
	PublicKey ed25519.PublicKey // the key it registers with (kid FirstKID)
	// Keys are its active API keys (filled when read from the store): a
	// token is verified by the one its kid names (VerifyingKey).
	Keys       []Key
	Scopes     []Scope
	WebhookURL string // "" for no webhooks
	// WebhookSecret signs webhooks to the partner (HMAC-SHA256).
	WebhookSecret []byte
	RatePerMin    int
	Active        bool
}

// Has reports whether the partner is registered for s.
func (p Partner) Has(s Scope) bool { return slices.Contains(p.Scopes, s) }

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,39}$`)

// Check validates a registration.
func (p Partner) Check() error {
	switch {
	case !idRE.MatchString(p.ID):
		return fmt.Errorf("%w: id must be 2-40 lower-case letters, digits or -", ErrInvalid)
	case p.Name == "" || len(p.Name) > 200:
		return fmt.Errorf("%w: name is required", ErrInvalid)
	case p.Kind != KindTicketing && p.Kind != KindRide && p.Kind != KindParking:
		return fmt.Errorf("%w: kind must be ticketing, ride or parking", ErrInvalid)
	case len(p.PublicKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: public key must be an Ed25519 public key", ErrInvalid)
	case len(p.Scopes) == 0:
		return fmt.Errorf("%w: at least one scope", ErrInvalid)
	case p.RatePerMin <= 0 || p.RatePerMin > 100_000:
		return fmt.Errorf("%w: rate per minute must be 1-100000", ErrInvalid)
	}
	for _, s := range p.Scopes {
		if !s.Valid() {
			return fmt.Errorf("%w: unknown scope %q", ErrInvalid, s)
		}
	}
	return nil
}

// Consent is a rider's consent to a partner.
type Consent struct {
	Partner     string
	Subject     string
	RiderRef    string // the partner's handle for the rider
	Scopes      []Scope
	GrantedAt   time.Time
	ExpiresAt   time.Time
	WithdrawnAt time.Time // zero while in force
}

// Allows reports whether the consent lets the partner use s at now.
func (c Consent) Allows(s Scope, now time.Time) bool {
	return c.WithdrawnAt.IsZero() && now.Before(c.ExpiresAt) && slices.Contains(c.Scopes, s)
}

// MaxConsent is the longest a consent may run before the rider renews it.
const MaxConsent = 366 * 24 * time.Hour

// Errors, mapped to HTTP status in one place (partnerhttp).
var (
	ErrInvalid   = errors.New("partner: invalid request")
	ErrNotFound  = errors.New("partner: not found")
	ErrNoConsent = errors.New("partner: no consent in force")
	ErrConflict  = errors.New("partner: conflict")
)
