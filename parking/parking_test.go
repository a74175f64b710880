package parking

import (
	"strings"
	"testing"
)

func TestNormalizePlate(t *testing.T) {
	for in, want := range map[string]string{"30a-123.45": "30A12345", " 29-B1 123.45 ": "29B112345", "": "", "đ-1": "1"} {
		if got := NormalizePlate(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestOpenAtOverMidnight(t *testing.T) {
	l := &Lot{Opens: 22 * 60, Closes: 6 * 60}
	for _, c := range []struct {
		h, m int
		want bool
	}{{21, 59, false}, {22, 0, true}, {0, 30, true}, {5, 59, true}, {6, 0, false}} {
		if got := l.OpenAt(local(24, c.h, c.m)); got != c.want {
			t.Errorf("%02d:%02d: %v", c.h, c.m, got)
		}
	}
}

// FuzzClassOf: plates come from gates; reading one never panics, and a
// plate that has a class normalises to itself.
func FuzzClassOf(f *testing.F) {
	for _, s := range []string{"30A-123.45", "29B1-123.45", "29-B1.123.45", "51LD12345", "", "-", "99Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ClassOf(s)
		if err != nil {
			return
		}
		if !c.Valid() {
			t.Fatalf("%q: class %q", s, c)
		}
		n := NormalizePlate(s)
		if NormalizePlate(n) != n || strings.ContainsAny(n, "-. ") {
			t.Fatalf("%q: normalised %q", s, n)
		}
	})
}
