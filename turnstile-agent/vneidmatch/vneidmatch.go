// Package vneidmatch adapts the VNeID face-match client (services/vneid) to
// the gate agent's Matcher: the client's no-match becomes agent.ErrNoMatch,
// so the gate shows "face not recognised" rather than "system error".
package vneidmatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
)

// Matcher is an agent.Matcher backed by the VNeID face-match service.
type Matcher struct {
	Client *vneid.MatchClient
}

var _ agent.Matcher = Matcher{}

// Match asks VNeID for an assertion for faceRef at device. An unknown face
// returns an error matching both agent.ErrNoMatch and vneid.ErrNoMatch.
func (m Matcher) Match(ctx context.Context, faceRef, device string) (string, time.Time, error) {
	assertion, expiresAt, err := m.Client.Match(ctx, faceRef, device)
	if errors.Is(err, vneid.ErrNoMatch) {
		err = fmt.Errorf("%w: %w", agent.ErrNoMatch, err)
	}
	return assertion, expiresAt, err
}
