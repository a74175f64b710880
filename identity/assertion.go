// Package identity owns what the platform knows about a rider's identity: the
// verified face-match assertion issued by VNeID and the errors that reject one.
// It never holds a CCCD number, a name or a birth date.
package identity

import (
	"context"
	"errors"
	"time"
)

// Assertion is what the platform learns from a verified VNeID face-match
// assertion. No CCCD number, no name.
type Assertion struct {
	Subject   string // pseudonymous VNeID account id for this relying party
	JTI       string // unique assertion id; single use, enforced by the caller's durable store
	Audience  string // the device id the assertion was issued to
	IssuedAt  time.Time
	ExpiresAt time.Time
	Level     int  // VNeID account level (2 = verified biometrics)
	Age       int  // whole years on the day of issuance (for concessions; no birth date leaves the IdP)
	Disabled  bool // holder of a disability certificate
	// Meritorious is set for people with meritorious services to the revolution
	// (người có công), who ride free or at a discount.
	Meritorious bool
}

// Errors returned (wrapped) by a Verifier, and by the caller's replay store.
var (
	// ErrAssertionInvalid covers everything that makes an assertion untrustworthy:
	// forged signature, unknown kid, wrong or "none" alg, malformed token,
	// wrong issuer, missing or insane claims.
	ErrAssertionInvalid     = errors.New("identity: assertion invalid")
	ErrAssertionExpired     = errors.New("identity: assertion expired")
	ErrAssertionNotYetValid = errors.New("identity: assertion not yet valid")
	// ErrAssertionWrongDevice: the assertion was issued to another device.
	ErrAssertionWrongDevice = errors.New("identity: assertion issued to another device")
	// ErrAssertionReplayed: the jti was already used. Verify does not return it;
	// the caller's durable jti store does.
	ErrAssertionReplayed = errors.New("identity: assertion already used")
)

// Verifier checks a signed assertion presented at a device and returns what it
// asserts. It does not check replay: the caller records Assertion.JTI until
// Assertion.ExpiresAt in a durable store and returns ErrAssertionReplayed.
type Verifier interface {
	Verify(ctx context.Context, token string, device string) (Assertion, error)
}

// VerifierAt is a Verifier that can also judge an assertion as of a past
// instant. A tap a gate decided offline reaches the cloud minutes or hours
// after its capture, long after its assertion expired: its signature, issuer,
// audience and claims are checked as usual, and its time window (exp, nbf,
// iat) at the capture time. The caller still claims the jti once.
type VerifierAt interface {
	Verifier
	VerifyAt(ctx context.Context, token string, device string, at time.Time) (Assertion, error)
}
