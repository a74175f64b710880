package fare

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestShippedSet(t *testing.T) {
	s, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 24, 8, 0, 0, 0, Zone)
	for _, c := range []struct {
		from, to string
		want     int64
	}{
		{"hn2a-cat-linh", "hn2a-yen-nghia", 15000},
		{"hn2a-cat-linh", "hn2a-la-thanh", 8000},
	} {
		q, err := s.PriceFor(Query{From: c.from, To: c.to, At: at})
		if err != nil || q.Amount.IntPart() != c.want {
			t.Errorf("%s -> %s: %v %v, want %d", c.from, c.to, q.Amount, err, c.want)
		}
	}
	var hcmc []string
	for _, st := range s.Stops() {
		if st.NetworkID != "" && st.NetworkID != "hn2a" && st.NetworkID != "hn3" {
			hcmc = append(hcmc, st.ID)
		}
	}
	if len(hcmc) != 14 {
		t.Fatalf("%d HCMC Line 1 stations in the set, want 14", len(hcmc))
	}
	q, err := s.PriceFor(Query{From: hcmc[0], To: hcmc[len(hcmc)-1], At: at})
	if err != nil || q.Amount.IntPart() != 19000 {
		t.Errorf("Bến Thành -> Suối Tiên: %v %v, want 19.000", q.Amount, err)
	}
	if _, err := s.PriceFor(Query{From: "hn2a-cat-linh", To: hcmc[0], At: at}); !errors.Is(err, ErrNoFareRule) && !errors.Is(err, ErrUnknownStop) {
		t.Errorf("Hanoi to HCMC priced: %v", err)
	}
	st, _ := s.Stop(hcmc[0])
	if got := s.Category(Rider{Age: 70}, st.NetworkID); got == s.Category(Rider{Age: 30}, st.NetworkID) {
		t.Errorf("a 70-year-old rides HCMC Line 1 as %q like an adult", got)
	}
	h, _ := Hanoi()
	if _, err := NewSet(h, h); !errors.Is(err, ErrInvalidData) {
		t.Errorf("the same feed twice: %v", err)
	}
}

func TestSetTransfer(t *testing.T) {
	s, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 24, 8, 0, 0, 0, Zone)
	prev := Leg{From: "hn2a-yen-nghia", To: "hn2a-cat-linh", EntryAt: at, ExitAt: at.Add(30 * time.Minute), Category: "adult", Charged: decimal.NewFromInt(15000)}
	next := Leg{From: "hn3-cat-linh", To: "hn3-nhon", EntryAt: at.Add(40 * time.Minute), ExitAt: at.Add(70 * time.Minute), Category: "adult"}
	tq, err := s.Transfer(prev, next)
	if err != nil {
		t.Fatal(err)
	}
	if tq.RuleID == "" || !tq.Adjustment.Equal(decimal.NewFromInt(-7000)) {
		t.Errorf("Cát Linh transfer: %+v", tq)
	}
	// Across feeds there is no transfer.
	next.From, next.To = "hcm1-ben-thanh", "hcm1-ba-son"
	if tq, err := s.Transfer(prev, next); err != nil || tq.RuleID != "" || !tq.Adjustment.IsZero() {
		t.Errorf("Hanoi to HCMC transfer: %+v %v", tq, err)
	}
}
