package money

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"
)

func TestFormat(t *testing.T) {
	for in, want := range map[string]string{
		"0":        "0 ₫",
		"500":      "500 ₫",
		"8000":     "8.000 ₫",
		"15000":    "15.000 ₫",
		"200000":   "200.000 ₫",
		"1234567":  "1.234.567 ₫",
		"-5000":    "-5.000 ₫",
		"-100":     "-100 ₫",
		"7999.5":   "8.000 ₫",
		"12000000": "12.000.000 ₫",
	} {
		if got := Format(decimal.RequireFromString(in)); got != want {
			t.Errorf("Format(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestToDong(t *testing.T) {
	if v, err := ToDong(Dong(15000)); err != nil || v != 15000 {
		t.Errorf("ToDong(15000) = %d, %v", v, err)
	}
	if _, err := ToDong(decimal.RequireFromString("1.5")); !errors.Is(err, ErrNotWhole) {
		t.Errorf("ToDong(1.5) err = %v", err)
	}
	if _, err := ToDong(decimal.RequireFromString("1e20")); err == nil {
		t.Error("ToDong(1e20) accepted")
	}
}
