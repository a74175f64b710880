package parking

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestDecideEntry(t *testing.T) {
	c := catalogue(t)
	lot, _ := c.Lot("hnp-ha-dong") // 05:00-23:00, 300 motorbikes, 30 cars
	rules := Rules{RetapWindow: 2 * time.Minute, DebtLimit: decimal.NewFromInt(30000)}
	rich := Rider{Exists: true, Status: "active", Balance: decimal.NewFromInt(100000)}
	at := local(24, 8, 0)
	open := &Session{Plate: "29B112345", EntryAt: at.Add(-time.Minute), Open: true}
	for _, tc := range []struct {
		name  string
		at    time.Time
		plate string
		rider Rider
		gate  Gate
		want  Code
		new   bool
	}{
		{"enters", at, "29B1-123.45", rich, Gate{Lot: lot}, OK, true},
		{"no plate", at, "", rich, Gate{Lot: lot}, NoPlate, false},
		{"not a plate", at, "HELLO", rich, Gate{Lot: lot}, NoPlate, false},
		{"no account", at, "29B1-123.45", Rider{}, Gate{Lot: lot}, NoAccount, false},
		{"suspended", at, "29B1-123.45", Rider{Exists: true, Status: "suspended"}, Gate{Lot: lot}, AccountSuspended, false},
		{"post-paid in debt", at, "29B1-123.45", Rider{Exists: true, Status: "active", Postpaid: true, Balance: decimal.NewFromInt(-30001), DebtSince: at}, Gate{Lot: lot}, InDebt, false},
		{"post-paid owing, not overdue", at, "29B1-123.45", Rider{Exists: true, Status: "active", Postpaid: true, Balance: decimal.NewFromInt(-90000)}, Gate{Lot: lot}, OK, true},
		{"retap", at, "29B1-123.45", Rider{Exists: true, Status: "active", Balance: decimal.NewFromInt(100000), Open: open}, Gate{Lot: lot}, OK, false},
		{"session open", at.Add(5 * time.Minute), "29B1-123.45", Rider{Exists: true, Status: "active", Balance: decimal.NewFromInt(100000), Open: open}, Gate{Lot: lot}, SessionOpen, false},
		{"plate inside", at, "29B1-123.45", rich, Gate{Lot: lot, PlateInside: open}, PlateMismatch, false},
		{"before opening", local(24, 4, 59), "29B1-123.45", rich, Gate{Lot: lot}, LotClosed, false},
		{"full", at, "30A-123.45", rich, Gate{Lot: lot, Occupancy: Occupancy{Car: 30}}, LotFull, false},
		{"motorbikes still fit", at, "29B1-123.45", rich, Gate{Lot: lot, Occupancy: Occupancy{Car: 30, Motorbike: 299}}, OK, true},
		{"balance below an hour of car", at, "30A-123.45", Rider{Exists: true, Status: "active", Balance: decimal.NewFromInt(24999)}, Gate{Lot: lot}, InsufficientFunds, false},
		{"subscription instead of balance", at, "29B1-123.45", Rider{Exists: true, Status: "active"},
			Gate{Lot: lot, Subs: []Subscription{{Plate: "29B112345", Tariff: "hn-44-2017-motorbike", From: local(24, 0, 0), Until: local(24, 0, 0).AddDate(0, 1, 0)}}}, OK, true},
		{"another plate's subscription", at, "29B1-555.55", Rider{Exists: true, Status: "active"},
			Gate{Lot: lot, Subs: []Subscription{{Plate: "29B112345", Tariff: "hn-44-2017-motorbike", From: local(24, 0, 0), Until: local(24, 0, 0).AddDate(0, 1, 0)}}}, InsufficientFunds, false},
	} {
		e := rules.DecideEntry(tc.at, tc.plate, tc.rider, tc.gate)
		if e.Code != tc.want || (e.New != nil) != tc.new || e.Text.VI == "" || e.Text.EN == "" {
			t.Errorf("%s: %s %q new=%v, want %s new=%v", tc.name, e.Code, e.Text.EN, e.New != nil, tc.want, tc.new)
		}
	}
}

func TestDecideExit(t *testing.T) {
	c := catalogue(t)
	lot, _ := c.Lot("hnp-cat-linh")
	rules := Rules{RetapWindow: 2 * time.Minute}
	open := &Session{ID: 4, Plate: "30A12345", Class: Car, EntryAt: local(24, 9, 0), Open: true}
	closed := &Session{ID: 3, Plate: "30A12345", Class: Car, EntryAt: local(24, 7, 0), ExitAt: local(24, 8, 0)}
	r := Rider{Exists: true, Status: "active", Open: open}
	at := local(24, 11, 30) // 2h30: 3 hours
	for _, tc := range []struct {
		name   string
		plate  string
		rider  Rider
		honour bool
		want   Code
		fee    int64
	}{
		{"pays", "30A-123.45", r, false, OK, 85000},
		{"other plate", "30A-999.99", r, false, PlateMismatch, -1},
		{"no plate", "", r, false, NoPlate, -1},
		{"offline exit honoured without a plate", "", r, true, OK, 85000},
		{"no session", "30A-123.45", Rider{Exists: true}, false, NoEntry, -1},
	} {
		x, err := rules.DecideExit(at, tc.plate, tc.rider, lot, nil, tc.honour)
		if err != nil {
			t.Fatal(err)
		}
		if x.Code != tc.want || (tc.fee >= 0) != (x.Close != nil) || x.Close != nil && x.Close.Fee.IntPart() != tc.fee {
			t.Errorf("%s: %s %+v, want %s fee %d", tc.name, x.Code, x.Close, tc.want, tc.fee)
		}
	}
	x, _ := rules.DecideExit(local(24, 8, 1), "30A-123.45", Rider{Exists: true, LastClosed: closed}, lot, nil, false)
	if x.Code != OK || x.Close != nil || x.Session != closed {
		t.Errorf("retap at the exit: %+v", x)
	}
	if open.Open != true || !open.Fee.IsZero() {
		t.Error("DecideExit changed the session it was given")
	}
}
