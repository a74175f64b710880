package ledger

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestValidate(t *testing.T) {
	r, o, p := Rider("vn_a"), OperatorRevenue("hn-metro"), ProviderSettlement("sim")
	for _, c := range []struct {
		name    string
		key     string
		entries []Entry
		want    error
	}{
		{"fare", "fare:1", []Entry{{r, d("-15000")}, {o, d("15000")}}, nil},
		{"three way", "x", []Entry{{r, d("-15000")}, {o, d("10000")}, {OperatorRevenue("b"), d("5000")}}, nil},
		{"unbalanced", "x", []Entry{{r, d("-15000")}, {o, d("14999")}}, ErrUnbalanced},
		{"one entry", "x", []Entry{{r, d("0")}}, ErrInvalid},
		{"zero entry", "x", []Entry{{r, d("0")}, {o, d("0")}}, ErrInvalid},
		{"fraction", "x", []Entry{{r, d("-0.5")}, {o, d("0.5")}}, ErrInvalid},
		{"same account", "x", []Entry{{r, d("-1")}, {r, d("1")}}, ErrInvalid},
		{"no key", "", []Entry{{r, d("-1")}, {o, d("1")}}, ErrInvalid},
		{"unknown account", "x", []Entry{{"bank:1", d("-1")}, {o, d("1")}}, ErrInvalid},
		{"provider topup", "t", []Entry{{p, d("-100000")}, {r, d("100000")}}, nil},
	} {
		_, err := New(c.key, "fare", "", c.entries...)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestTransfer(t *testing.T) {
	tx, err := Transfer("fare:1", "fare", "", Rider("vn_a"), OperatorRevenue("hn"), d("8000"))
	if err != nil {
		t.Fatal(err)
	}
	if !tx.Entries[0].Amount.Equal(d("-8000")) || !tx.Entries[1].Amount.Equal(d("8000")) {
		t.Errorf("entries = %+v", tx.Entries)
	}
	if _, err := Transfer("k", "fare", "", Rider("a"), Rider("b"), d("-1")); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative transfer: %v", err)
	}
	if Rider("vn_a").Kind() != KindRider || OperatorRevenue("x").Kind() != KindOperator {
		t.Error("Kind")
	}
}

func TestSameEntries(t *testing.T) {
	a := []Entry{{Rider("x"), d("-5")}, {OperatorRevenue("o"), d("5")}}
	b := []Entry{{OperatorRevenue("o"), d("5.0")}, {Rider("x"), d("-5")}}
	c := []Entry{{Rider("x"), d("-6")}, {OperatorRevenue("o"), d("6")}}
	if !SameEntries(a, b) || SameEntries(a, c) || SameEntries(a, a[:1]) {
		t.Error("SameEntries")
	}
}
