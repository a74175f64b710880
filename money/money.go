// Package money holds the few rules vnpass has about amounts of Vietnamese
// dong: amounts are decimal.Decimal in whole dong, rounded in one place, and
// shown the way Vietnamese read them ("15.000 ₫").
package money

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Dong makes an amount from whole dong.
func Dong(v int64) decimal.Decimal { return decimal.NewFromInt(v) }

// Round is the one place amounts are rounded: to whole dong, half away from
// zero (VND has no minor unit in circulation).
func Round(d decimal.Decimal) decimal.Decimal { return d.Round(0) }

// ErrNotWhole is returned for an amount with a fractional dong.
var ErrNotWhole = errors.New("money: amount is not a whole number of dong")

// ToDong returns a whole-dong amount as int64, as the wire carries it.
func ToDong(d decimal.Decimal) (int64, error) {
	if !d.Equal(d.Truncate(0)) {
		return 0, fmt.Errorf("%w: %s", ErrNotWhole, d)
	}
	if !d.IsInteger() || d.Abs().GreaterThan(decimal.NewFromInt(1e15)) {
		return 0, fmt.Errorf("money: %s out of range", d)
	}
	return d.IntPart(), nil
}

// Format writes an amount as Vietnamese read it: dot-grouped thousands and
// the dong sign after a space, e.g. "15.000 ₫", "-5.000 ₫", "0 ₫".
// Fractions are rounded first.
func Format(d decimal.Decimal) string {
	s := Round(d).String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	b.WriteString(" ₫")
	return b.String()
}
