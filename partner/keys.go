package partner

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Key is one of a partner's API keys: the public half of an Ed25519 key
// pair whose private half signs the partner's tokens, named by a key id
// (kid) that its tokens carry in their header. A partner has one to
// MaxActiveKeys active keys; a retired key stays on record (never
// reactivated, its kid never reused) and verifies nothing.
type Key struct {
	Partner   string
	KID       string
	PublicKey ed25519.PublicKey
	CreatedAt time.Time
	RetiredAt time.Time // zero while active
}

// Active reports whether the key verifies tokens.
func (k Key) Active() bool { return k.RetiredAt.IsZero() }

// MaxActiveKeys is how many keys a partner may have active at once: the
// one in use, the next one during a rotation, and one spare.
const MaxActiveKeys = 3

// FirstKID names the key a partner registers with (and the key of every
// partner registered before keys had ids).
const FirstKID = "k0"

var kidRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Check validates a key to add.
func (k Key) Check() error {
	switch {
	case !kidRE.MatchString(k.KID):
		return fmt.Errorf("%w: kid must be 1-64 letters, digits, '.', '_' or '-'", ErrInvalid)
	case len(k.PublicKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: public key must be an Ed25519 public key", ErrInvalid)
	}
	return nil
}

// VerifyingKey chooses the key that verifies a token of the partner whose
// active keys are active, from the token's kid: the active key of that
// kid; with no kid, the partner's key only while it has exactly one active
// key (partners registered before key ids keep working until they start a
// rotation, which needs kid). False: the token is refused.
func VerifyingKey(active []Key, kid string) (ed25519.PublicKey, bool) {
	if kid == "" {
		if len(active) == 1 && active[0].Active() {
			return active[0].PublicKey, true
		}
		return nil, false
	}
	for _, k := range active {
		if k.KID == kid && k.Active() {
			return k.PublicKey, true
		}
	}
	return nil, false
}

// Errors of key rotation (409 each).
var (
	ErrKeyExists   = errors.New("partner: the partner has a key of this id or this public key already")
	ErrTooManyKeys = errors.New("partner: the partner has the most active keys allowed")
	ErrLastKey     = errors.New("partner: the partner's last active key")
)
