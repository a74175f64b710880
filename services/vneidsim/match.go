package vneidsim

import (
	"context"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// AccountLevel is the VNeID level of every simulated account: level 2,
// identity and face verified at enrollment.
const AccountLevel = 2

const maxDeviceLen = 128

// validDevice: a gate or device id such as "hn2a-cat-linh-g01".
func validDevice(d string) bool {
	if d == "" || len(d) > maxDeviceLen {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// Match finds the citizen behind faceRef and issues an assertion for device,
// valid for the configured TTL. Unknown faces return ErrNoMatch.
func (s *Server) Match(ctx context.Context, faceRef, device string) (string, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, err
	}
	if faceRef == "" {
		return "", time.Time{}, fmt.Errorf("%w: face_ref is required", ErrInvalidMatch)
	}
	if !validDevice(device) {
		return "", time.Time{}, fmt.Errorf("%w: device must be 1-%d characters of [A-Za-z0-9._:-]", ErrInvalidMatch, maxDeviceLen)
	}

	s.mu.RLock()
	c, ok := s.byFace[faceRef]
	key := s.keys[len(s.keys)-1]
	s.mu.RUnlock()
	if !ok {
		s.log.DebugContext(ctx, "face not matched", "device", device)
		return "", time.Time{}, ErrNoMatch
	}

	jti, err := s.newJTI()
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.cfg.Now().Truncate(time.Second)
	exp := now.Add(s.cfg.TTL)
	// Only derived attributes: no CCCD, no name, no birth date.
	claims := jwt.MapClaims{
		"iss": s.cfg.Issuer,
		"sub": c.Subject,
		"aud": device,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": exp.Unix(),
		"jti": jti,
		"lvl": AccountLevel,
		"age": ageOn(c.dob, now),
		"dis": c.Disabled,
		"mer": c.Meritorious,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = key.kid
	signed, err := tok.SignedString(key.priv)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("vneidsim: sign assertion: %w", err)
	}
	s.log.DebugContext(ctx, "face matched", "subject", c.Subject, "device", device, "jti", jti, "kid", key.kid)
	return signed, exp.UTC(), nil
}

func (s *Server) newJTI() (string, error) {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	id, err := uuid.NewRandomFromReader(s.cfg.Rand)
	if err != nil {
		return "", fmt.Errorf("vneidsim: jti: %w", err)
	}
	return id.String(), nil
}
