package identity

import (
	"errors"
	"fmt"
	"testing"
)

// The sentinels must stay distinct so callers can map each to its own gate reason.
func TestSentinelsDistinct(t *testing.T) {
	all := []error{ErrAssertionInvalid, ErrAssertionExpired, ErrAssertionNotYetValid, ErrAssertionWrongDevice, ErrAssertionReplayed}
	for i, a := range all {
		wrapped := fmt.Errorf("adapter: verify: %w", a)
		for j, b := range all {
			if got := errors.Is(wrapped, b); got != (i == j) {
				t.Errorf("errors.Is(wrap(%v), %v) = %v", a, b, got)
			}
		}
	}
}
