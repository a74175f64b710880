package fare

import (
	"errors"
	"testing"
	"time"
)

// Every shipped pass: its network, price per category, and validity.
func TestShippedPasses(t *testing.T) {
	hn, hc := hanoi(t), hcmc(t)
	start := utc(2026, 2, 2, 2, 15) // 09:15 local, Monday 2 Feb 2026
	for _, tc := range []struct {
		tab               *Table
		product, category string
		network           string
		amount            int64
		row               string
		until             time.Time
	}{
		{hn, "hn2a-day", "", "hn2a", 30000, "fare_products.txt:58", utc(2026, 2, 2, 17, 0)},
		{hn, "hn2a-day", "student", "hn2a", 30000, "fare_products.txt:59", utc(2026, 2, 2, 17, 0)},
		{hn, "hn2a-day", "worker_industrial_zone", "hn2a", 30000, "fare_products.txt:60", utc(2026, 2, 2, 17, 0)},
		{hn, "hn2a-month", "adult", "hn2a", 200000, "fare_products.txt:61", utc(2026, 2, 28, 17, 0)},
		{hn, "hn2a-month", "student", "hn2a", 100000, "fare_products.txt:62", utc(2026, 2, 28, 17, 0)},
		{hn, "hn2a-month", "worker_industrial_zone", "hn2a", 100000, "fare_products.txt:63", utc(2026, 2, 28, 17, 0)},
		{hn, "hn3-day", "adult", "hn3", 24000, "fare_products.txt:106", utc(2026, 2, 2, 17, 0)},
		{hn, "hn3-day", "student", "hn3", 24000, "fare_products.txt:107", utc(2026, 2, 2, 17, 0)},
		{hn, "hn3-month", "adult", "hn3", 200000, "fare_products.txt:108", utc(2026, 2, 28, 17, 0)},
		{hn, "hn3-month", "student", "hn3", 100000, "fare_products.txt:109", utc(2026, 2, 28, 17, 0)},
		{hc, "hcm1-day", "adult", "hcm1", 40000, "fare_products.txt:86", utc(2026, 2, 2, 17, 0)},
		{hc, "hcm1-day", "student", "hcm1", 40000, "fare_products.txt:87", utc(2026, 2, 2, 17, 0)},
		{hc, "hcm1-3day", "adult", "hcm1", 90000, "fare_products.txt:88", utc(2026, 2, 4, 17, 0)},
		{hc, "hcm1-3day", "student", "hcm1", 90000, "fare_products.txt:89", utc(2026, 2, 4, 17, 0)},
		{hc, "hcm1-month", "adult", "hcm1", 300000, "fare_products.txt:90", utc(2026, 2, 28, 17, 0)},
		{hc, "hcm1-month", "student", "hcm1", 150000, "fare_products.txt:91", utc(2026, 2, 28, 17, 0)},
	} {
		p, err := tc.tab.NewPass(tc.product, tc.category, start)
		if err != nil {
			t.Errorf("NewPass(%s, %q): %v", tc.product, tc.category, err)
			continue
		}
		wantCat := tc.category
		if wantCat == "" {
			wantCat = "adult"
		}
		if p.ProductID != tc.product || p.NetworkID != tc.network || p.Category != wantCat || !p.Amount.Equal(vnd(tc.amount)) ||
			p.RuleID != tc.row || !p.ValidFrom.Equal(start) || !p.ValidUntil.Equal(tc.until) {
			t.Errorf("NewPass(%s, %q) = %+v; want %s %d %s until %s", tc.product, tc.category, p, tc.network, tc.amount, tc.row, tc.until)
		}
	}
}

func TestPassCovers(t *testing.T) {
	hn, hc := hanoi(t), hcmc(t)
	newPass := func(tab *Table, product, category string, start time.Time) Pass {
		t.Helper()
		p, err := tab.NewPass(product, category, start)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ns := time.Nanosecond
	day := newPass(hn, "hn2a-day", "", utc(2026, 2, 2, 2, 15))            // 09:15 local, 2 Feb
	three := newPass(hc, "hcm1-3day", "", utc(2026, 1, 30, 13, 0))        // 20:00 local, 30 Jan
	jan := newPass(hn, "hn2a-month", "student", utc(2026, 1, 14, 17, 0))  // 00:00 local, 15 Jan
	feb := newPass(hn, "hn3-month", "", utc(2026, 1, 31, 17, 0))          // 00:00 local, 1 Feb
	leap := newPass(hc, "hcm1-month", "student", utc(2028, 1, 31, 17, 0)) // 00:00 local, 1 Feb 2028
	lastDay := newPass(hn, "hn2a-month", "", utc(2026, 1, 31, 15, 0))     // 22:00 local, 31 Jan
	for _, tc := range []struct {
		name    string
		pass    Pass
		network string
		at      time.Time
		want    bool
	}{
		{"day pass at purchase", day, "hn2a", utc(2026, 2, 2, 2, 15), true},
		{"day pass before purchase", day, "hn2a", utc(2026, 2, 2, 2, 15).Add(-ns), false},
		{"day pass 23:59:59 local", day, "hn2a", utc(2026, 2, 2, 17, 0).Add(-ns), true},
		{"day pass 00:00 local next day", day, "hn2a", utc(2026, 2, 2, 17, 0), false},
		{"day pass on another line", day, "hn3", utc(2026, 2, 2, 5, 0), false},
		{"day pass on no network", day, "", utc(2026, 2, 2, 5, 0), false},
		{"3-day pass on its third day", three, "hcm1", utc(2026, 2, 1, 16, 59), true},
		{"3-day pass on the fourth day", three, "hcm1", utc(2026, 2, 1, 17, 0), false},
		{"month pass 31 Jan 23:59 local", jan, "hn2a", utc(2026, 1, 31, 16, 59), true},
		{"month pass 1 Feb 00:00 local", jan, "hn2a", utc(2026, 1, 31, 17, 0), false},
		{"month pass before its start", jan, "hn2a", utc(2026, 1, 14, 16, 59), false},
		{"February pass 28 Feb 23:59 local", feb, "hn3", utc(2026, 2, 28, 16, 59), true},
		{"February pass 1 Mar 00:00 local", feb, "hn3", utc(2026, 2, 28, 17, 0), false},
		{"February 2028 pass on 29 Feb", leap, "hcm1", utc(2028, 2, 29, 16, 59), true},
		{"February 2028 pass on 1 Mar", leap, "hcm1", utc(2028, 2, 29, 17, 0), false},
		{"month pass bought on the month's last evening", lastDay, "hn2a", utc(2026, 1, 31, 17, 0), false},
		{"zero pass", Pass{}, "hn2a", utc(2026, 2, 2, 5, 0), false},
	} {
		if got := PassCovers(tc.pass, tc.network, tc.at); got != tc.want {
			t.Errorf("%s: PassCovers(%s [%s, %s), %s, %s) = %v", tc.name, tc.pass.ProductID,
				tc.pass.ValidFrom.In(Zone), tc.pass.ValidUntil.In(Zone), tc.network, tc.at.In(Zone), got)
		}
	}
}

func TestNewPassErrors(t *testing.T) {
	hn := hanoi(t)
	at := utc(2026, 2, 2, 2, 0)
	for _, tc := range []struct {
		product, category string
		want              error
	}{
		{"hn2a-week", "", ErrNoPass},
		{"hn2a-8000", "", ErrNoPass},                       // a single fare
		{"hn-transfer-cat-linh", "", ErrNoPass},            // a transfer discount
		{"hn3-month", "worker_industrial_zone", ErrNoPass}, // no worker concession on Line 3
		{"hn2a-month", "senior_60_plus", ErrNoPass},        // rides free: no pass sold
		{"hn2a-month", "pensioner", ErrUnknownCategory},
	} {
		if _, err := hn.NewPass(tc.product, tc.category, at); !errors.Is(err, tc.want) {
			t.Errorf("NewPass(%s, %q) err = %v, want %v", tc.product, tc.category, err, tc.want)
		}
	}
}

// A rider never pays more than the pass would have cost: the caps equal the
// shipped 1-day and 1-month pass prices for every category that can buy them.
func TestCapsArePassPrices(t *testing.T) {
	for _, tab := range []*Table{hanoi(t), hcmc(t)} {
		for id, p := range tab.passes {
			if p.dur.amount != 1 {
				continue
			}
			for _, cat := range tab.RiderCategories() {
				pass, err := tab.NewPass(id, cat, utc(2026, 2, 2, 2, 0))
				if err != nil {
					continue
				}
				today, month := vnd(0), vnd(0)
				if p.dur.unit == durationDay {
					today = pass.Amount
				} else {
					month = pass.Amount
				}
				if r := tab.Cap(p.network, cat, today, month, vnd(8000)); !r.Charge.IsZero() || r.ProductID != id {
					t.Errorf("%s for %s: after spending %s, Cap = %+v", id, cat, pass.Amount, r)
				}
			}
		}
	}
}
