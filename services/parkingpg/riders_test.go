package parkingpg_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/parkingpg"
)

// TestRiderSessionsAndRefunds: a rider lists their own sessions (plate,
// class, fee, the rule and the tariff rows that priced it) and no one
// else's; refunds of a fee are idempotent per key, never more than the fee
// net of earlier refunds (also when raced), posted from the lot operator's
// revenue to the rider; the books balance and clearing counts them with
// parking.
func TestRiderSessionsAndRefunds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.rider("vn_an", 100_000)
	f.rider("vn_binh", 100_000)

	want(t, "an's car in", f.tap(proto.KindParkingEntry, "vn_an", "30A-111.11"), proto.ReasonOK)
	want(t, "binh's motorbike in", f.tap(proto.KindParkingEntry, "vn_binh", "29B1-222.22"), proto.ReasonOK)
	f.clock.Set(local(24, 8, 0))
	if d := f.tap(proto.KindParkingExit, "vn_binh", "29B1-222.22"); *d.FareVND != 5000 {
		t.Fatalf("binh's fee %+v", d)
	}
	f.clock.Set(local(24, 9, 1)) // a car for 2 h 01: 25.000 + 25.000 + 35.000
	if d := f.tap(proto.KindParkingExit, "vn_an", "30A-111.11"); *d.FareVND != 85000 || f.balance("vn_an") != 15000 {
		t.Fatalf("an's fee %+v, balance %d", d, f.balance("vn_an"))
	}

	ss, err := f.store.RiderSessions(ctx, "vn_an", time.Time{}, time.Time{}, 0)
	if err != nil || len(ss) != 1 {
		t.Fatalf("an's sessions: %+v %v", ss, err)
	}
	an := ss[0]
	if an.Subject != "vn_an" || an.Plate != "30A11111" || an.Class != parking.Car || an.Open || an.Fee.IntPart() != 85000 ||
		an.Rule == "" || an.LotName != "Test lot" || an.Operator != "hn-parking" || !an.Refunded.IsZero() || an.Paid().IntPart() != 85000 ||
		!an.EntryAt.Equal(local(24, 7, 0)) || !an.ExitAt.Equal(local(24, 9, 1)) {
		t.Fatalf("an's session %+v", an)
	}
	if an.Quote == nil || an.Quote.Amount.IntPart() != 85000 || len(an.Quote.Steps) == 0 || an.Quote.Steps[0].Rule != an.Rule {
		t.Fatalf("an's explanation %+v (rule %s)", an.Quote, an.Rule)
	}
	bs, err := f.store.RiderSessions(ctx, "vn_binh", time.Time{}, time.Time{}, 0)
	if err != nil || len(bs) != 1 || bs[0].ID == an.ID || bs[0].Plate != "29B122222" {
		t.Fatalf("binh's sessions: %+v %v", bs, err)
	}
	for _, r := range [][2]time.Time{{local(24, 7, 1), time.Time{}}, {time.Time{}, local(24, 7, 0)}, {local(25, 0, 0), local(26, 0, 0)}} {
		if ss, err := f.store.RiderSessions(ctx, "vn_an", r[0], r[1], 10); err != nil || len(ss) != 0 {
			t.Errorf("sessions entered in [%s, %s): %+v %v", r[0], r[1], ss, err)
		}
	}
	if ss, err := f.store.RiderSessions(ctx, "vn_an", local(24, 0, 0), local(25, 0, 0), 10); err != nil || len(ss) != 1 {
		t.Errorf("sessions of the day: %+v %v", ss, err)
	}
	if ss, err := f.store.RiderSessions(ctx, "vn_nobody", time.Time{}, time.Time{}, 10); err != nil || len(ss) != 0 {
		t.Errorf("a stranger's sessions: %+v %v", ss, err)
	}

	// Refunds of an's fee: once per key, at most the fee.
	refund := func(id int64, dong int64, key string) (int64, error) {
		return f.store.RefundSession(ctx, id, money.Dong(dong), "barrier charged twice", "operator:lan", key)
	}
	tx1, err := refund(an.ID, 30000, "k1")
	if err != nil || tx1 == 0 || f.balance("vn_an") != 45000 {
		t.Fatalf("refund: %d %v, balance %d", tx1, err, f.balance("vn_an"))
	}
	if again, err := refund(an.ID, 30000, "k1"); !errors.Is(err, ledger.ErrDuplicate) || again != tx1 || f.balance("vn_an") != 45000 {
		t.Fatalf("the same refund again: %d %v, balance %d", again, err, f.balance("vn_an"))
	}
	if _, err := refund(an.ID, 20000, "k1"); !errors.Is(err, ledger.ErrKeyConflict) {
		t.Fatalf("another amount under the key: %v", err)
	}
	if _, err := refund(an.ID, 55001, "k2"); !errors.Is(err, ledger.ErrRefundTooLarge) || f.balance("vn_an") != 45000 {
		t.Fatalf("over the fee net of refunds: %v", err)
	}
	tx2, err := refund(an.ID, 55000, "k2")
	if err != nil || tx2 == tx1 || f.balance("vn_an") != 100000 {
		t.Fatalf("the rest: %d %v, balance %d", tx2, err, f.balance("vn_an"))
	}
	if _, err := refund(an.ID, 1, "k3"); !errors.Is(err, ledger.ErrRefundTooLarge) {
		t.Fatalf("refunded past the fee: %v", err)
	}
	if _, err := refund(an.ID, 0, "k4"); !errors.Is(err, ledger.ErrInvalid) {
		t.Fatalf("a zero refund: %v", err)
	}
	if _, err := refund(987654321, 1000, "k5"); !errors.Is(err, parkingpg.ErrNoSessionID) {
		t.Fatalf("no such session: %v", err)
	}
	r, err := f.store.RiderSession(ctx, an.ID)
	if err != nil || r.Refunded.IntPart() != 85000 || !r.Paid().IsZero() || r.Subject != "vn_an" || r.Quote == nil {
		t.Fatalf("an's session after the refunds: %+v %v", r, err)
	}
	if _, err := f.store.RiderSession(ctx, 987654321); !errors.Is(err, parkingpg.ErrNoSessionID) {
		t.Fatalf("no such session: %v", err)
	}

	// Raced refunds of binh's 5.000 under different keys: one is posted.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, tooLarge int
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := refund(bs[0].ID, 5000, "race-"+string(rune('a'+i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ledger.ErrRefundTooLarge):
				tooLarge++
			default:
				t.Errorf("raced refund: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if ok != 1 || tooLarge != 3 || f.balance("vn_binh") != 100000 {
		t.Fatalf("raced refunds: %d posted, %d refused, balance %d", ok, tooLarge, f.balance("vn_binh"))
	}

	// An open session has nothing to refund.
	f.clock.Set(local(24, 10, 0))
	want(t, "binh in again", f.tap(proto.KindParkingEntry, "vn_binh", "29B1-222.22"), proto.ReasonOK)
	bs, err = f.store.RiderSessions(ctx, "vn_binh", time.Time{}, time.Time{}, 0)
	if err != nil || len(bs) != 2 || !bs[0].Open || bs[0].Quote == nil || !bs[0].Paid().IsZero() {
		t.Fatalf("binh's open session first: %+v %v", bs, err)
	}
	if _, err := refund(bs[0].ID, 1000, "open"); !errors.Is(err, ledger.ErrRefundTooLarge) {
		t.Fatalf("refund of an open session: %v", err)
	}

	// The operator gave it all back; the books balance; clearing counts
	// the refunds with parking.
	a, err := f.settle.Account(ctx, ledger.OperatorRevenue("hn-parking"))
	if err != nil || !a.Balance.IsZero() {
		t.Fatalf("operator revenue %+v %v", a, err)
	}
	if b, err := f.settle.Books(ctx); err != nil || !b.Balanced() {
		t.Fatalf("books %+v %v", b, err)
	}
	cs, err := f.settle.Clearing(ctx, local(24, 12, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Operator == "hn-parking" && (!c.Parking.IsZero() || !c.Other.IsZero() || !c.Total.Equal(c.Ledger)) {
			t.Errorf("clearing %+v", c)
		}
	}
}
