package fare

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestCap(t *testing.T) {
	hn, hc := hanoi(t), hcmc(t)
	for _, tc := range []struct {
		name               string
		tab                *Table
		network, category  string
		today, month, fare int64
		charge             int64
		cap                CapKind
		limit              int64
		product, rule      string
	}{
		{"under both", hn, "hn2a", "", 0, 0, 15000, 15000, CapNone, 0, "", ""},
		{"reaches the day cap exactly", hn, "hn2a", "adult", 15000, 15000, 15000, 15000, CapNone, 0, "", ""},
		{"crosses the day cap", hn, "hn2a", "adult", 24000, 24000, 15000, 6000, CapDay, 30000, "hn2a-day", "fare_products.txt:58"},
		{"after the day cap", hn, "hn2a", "adult", 30000, 30000, 8000, 0, CapDay, 30000, "hn2a-day", "fare_products.txt:58"},
		{"over the day cap", hn, "hn2a", "adult", 35000, 35000, 8000, 0, CapDay, 30000, "hn2a-day", "fare_products.txt:58"},
		{"crosses the month cap", hn, "hn2a", "adult", 0, 195000, 15000, 5000, CapMonth, 200000, "hn2a-month", "fare_products.txt:61"},
		{"after the month cap", hn, "hn2a", "adult", 0, 200000, 15000, 0, CapMonth, 200000, "hn2a-month", "fare_products.txt:61"},
		{"day binds harder than month", hn, "hn2a", "adult", 27000, 195000, 15000, 3000, CapDay, 30000, "hn2a-day", "fare_products.txt:58"},
		{"month binds harder than day", hn, "hn2a", "adult", 25000, 197000, 15000, 3000, CapMonth, 200000, "hn2a-month", "fare_products.txt:61"},
		{"both bind equally: month", hn, "hn2a", "adult", 25000, 195000, 15000, 5000, CapMonth, 200000, "hn2a-month", "fare_products.txt:61"},
		{"both spent: month", hn, "hn2a", "adult", 30000, 200000, 15000, 0, CapMonth, 200000, "hn2a-month", "fare_products.txt:61"},
		{"student month", hn, "hn2a", "student", 0, 95000, 15000, 5000, CapMonth, 100000, "hn2a-month", "fare_products.txt:62"},
		{"student day", hn, "hn2a", "student", 24000, 50000, 15000, 6000, CapDay, 30000, "hn2a-day", "fare_products.txt:59"},
		{"worker month", hn, "hn2a", "worker_industrial_zone", 0, 100000, 9000, 0, CapMonth, 100000, "hn2a-month", "fare_products.txt:63"},
		{"Line 3 day", hn, "hn3", "adult", 16000, 16000, 12000, 8000, CapDay, 24000, "hn3-day", "fare_products.txt:106"},
		{"Line 3 student month", hn, "hn3", "student", 10000, 99000, 12000, 1000, CapMonth, 100000, "hn3-month", "fare_products.txt:109"},
		{"Line 3 day is its own", hn, "hn3", "adult", 0, 0, 12000, 12000, CapNone, 0, "", ""},
		{"HCMC day", hc, "hcm1", "adult", 38000, 38000, 19000, 2000, CapDay, 40000, "hcm1-day", "fare_products.txt:86"},
		{"HCMC month", hc, "hcm1", "", 0, 290000, 19000, 10000, CapMonth, 300000, "hcm1-month", "fare_products.txt:90"},
		{"HCMC student month", hc, "hcm1", "student", 0, 145000, 19000, 5000, CapMonth, 150000, "hcm1-month", "fare_products.txt:91"},
		{"free category: no cap", hn, "hn2a", "senior_60_plus", 90000, 900000, 0, 0, CapNone, 0, "", ""},
		{"no pass for the category there", hn, "hn3", "worker_industrial_zone", 90000, 900000, 12000, 12000, CapNone, 0, "", ""},
		{"unknown category", hn, "hn2a", "pensioner", 90000, 900000, 12000, 12000, CapNone, 0, "", ""},
		{"unknown network", hn, "hcm1", "adult", 90000, 900000, 12000, 12000, CapNone, 0, "", ""},
		{"zero fare", hn, "hn2a", "adult", 90000, 900000, 0, 0, CapNone, 0, "", ""},
	} {
		r := tc.tab.Cap(tc.network, tc.category, vnd(tc.today), vnd(tc.month), vnd(tc.fare))
		if !r.Charge.Equal(vnd(tc.charge)) || r.Cap != tc.cap || !r.Limit.Equal(vnd(tc.limit)) || r.ProductID != tc.product || r.RuleID != tc.rule {
			t.Errorf("%s: Cap = %s %q limit %s %s %s; want %d %q %d %s %s", tc.name,
				r.Charge, r.Cap, r.Limit, r.ProductID, r.RuleID, tc.charge, tc.cap, tc.limit, tc.product, tc.rule)
		}
	}
}

// books is a rider's charges on one network, as the ledger would hold them,
// to add up what was spent in the local day and month of a tap.
type books struct {
	entries []time.Time
	charges []decimal.Decimal
}

func (b *books) spent(at time.Time, period func(time.Time) (time.Time, time.Time)) decimal.Decimal {
	start, end := period(at)
	sum := decimal.Zero
	for i, e := range b.entries {
		if !e.Before(start) && e.Before(end) {
			sum = sum.Add(b.charges[i])
		}
	}
	return sum
}

// A day of journeys on Line 2A for an adult, ending at midnight on the last
// day of the month: the tap that crosses the day cap pays only up to it, the
// taps after pay 0, and 00:00 local (17:00 UTC) starts a new day and month.
func TestCapThroughADay(t *testing.T) {
	tab := hanoi(t)
	var b books
	for _, tc := range []struct {
		entry    time.Time
		from, to string
		fare     int64
		charge   int64
		cap      CapKind
	}{
		{utc(2026, 1, 31, 1, 0), "hn2a-cat-linh", "hn2a-yen-nghia", 15000, 15000, CapNone}, // 08:00 local
		{utc(2026, 1, 31, 5, 0), "hn2a-yen-nghia", "hn2a-lang", 14000, 14000, CapNone},     // 12:00: 29.000 spent
		{utc(2026, 1, 31, 11, 0), "hn2a-lang", "hn2a-ha-dong", 11000, 1000, CapDay},        // 18:00: crosses 30.000
		{utc(2026, 1, 31, 13, 0), "hn2a-ha-dong", "hn2a-la-khe", 8000, 0, CapDay},          // 20:00
		{utc(2026, 1, 31, 16, 59), "hn2a-la-khe", "hn2a-cat-linh", 14000, 0, CapDay},       // 23:59 local, 31 Jan
		{utc(2026, 1, 31, 17, 0), "hn2a-cat-linh", "hn2a-ha-dong", 13000, 13000, CapNone},  // 00:00 local, 1 Feb
		{utc(2026, 1, 31, 23, 0), "hn2a-ha-dong", "hn2a-cat-linh", 13000, 13000, CapNone},  // 06:00 local, 1 Feb
		{utc(2026, 2, 1, 1, 0), "hn2a-cat-linh", "hn2a-thai-ha", 9000, 4000, CapDay},       // 08:00 local, 1 Feb
	} {
		q, err := tab.Price(tc.from, tc.to)
		if err != nil || !q.Amount.Equal(vnd(tc.fare)) {
			t.Fatalf("Price(%s, %s) = %s, %v; want %d", tc.from, tc.to, q.Amount, err, tc.fare)
		}
		r := tab.Cap("hn2a", "adult", b.spent(tc.entry, Day), b.spent(tc.entry, Month), q.Amount)
		if !r.Charge.Equal(vnd(tc.charge)) || r.Cap != tc.cap {
			t.Errorf("%s local %s->%s: charge %s %q, want %d %q", tc.entry.In(Zone).Format("02 Jan 15:04"), tc.from, tc.to, r.Charge, r.Cap, tc.charge, tc.cap)
		}
		b.entries, b.charges = append(b.entries, tc.entry), append(b.charges, r.Charge)
	}
}

// A month of commuting for a student on Line 2A: the monthly cap (the student
// month pass, 100.000) binds on the tap that crosses it; 1 Mar starts over.
func TestCapThroughAMonth(t *testing.T) {
	tab := hanoi(t)
	var b books
	total := decimal.Zero
	day := utc(2026, 2, 1, 0, 0) // 07:00 local, 1 Feb 2026
	for d := 0; d < 28; d++ {
		for _, leg := range [][2]string{{"hn2a-ha-dong", "hn2a-cat-linh"}, {"hn2a-cat-linh", "hn2a-ha-dong"}} {
			entry := day.AddDate(0, 0, d).Add(time.Duration(len(b.entries)%2) * 10 * time.Hour)
			q, err := tab.PriceFor(Query{From: leg[0], To: leg[1], Category: "student", At: entry})
			if err != nil {
				t.Fatal(err)
			}
			r := tab.Cap("hn2a", "student", b.spent(entry, Day), b.spent(entry, Month), q.Amount)
			n := len(b.entries)
			switch {
			case n < 7 && (!r.Charge.Equal(vnd(13000)) || r.Cap != CapNone): // 7 × 13.000 = 91.000
				t.Errorf("journey %d charged %s %q, want 13000", n+1, r.Charge, r.Cap)
			case n == 7 && (!r.Charge.Equal(vnd(9000)) || r.Cap != CapMonth): // crosses 100.000
				t.Errorf("journey 8 charged %s %q, want 9000 month", r.Charge, r.Cap)
			case n > 7 && (!r.Charge.IsZero() || r.Cap != CapMonth):
				t.Errorf("journey %d charged %s %q, want 0 month", n+1, r.Charge, r.Cap)
			}
			total = total.Add(r.Charge)
			b.entries, b.charges = append(b.entries, entry), append(b.charges, r.Charge)
		}
	}
	if !total.Equal(vnd(100000)) {
		t.Errorf("February cost %s, want the student month pass, 100000", total)
	}
	// 1 Mar 00:00 local: a new month.
	entry := utc(2026, 2, 28, 17, 0)
	if r := tab.Cap("hn2a", "student", b.spent(entry, Day), b.spent(entry, Month), vnd(13000)); !r.Charge.Equal(vnd(13000)) || r.Cap != CapNone {
		t.Errorf("1 Mar charged %s %q, want 13000", r.Charge, r.Cap)
	}
	// 28 Feb 23:59 local is still February.
	entry = utc(2026, 2, 28, 16, 59)
	if r := tab.Cap("hn2a", "student", b.spent(entry, Day), b.spent(entry, Month), vnd(13000)); !r.Charge.IsZero() || r.Cap != CapMonth {
		t.Errorf("28 Feb 23:59 charged %s %q, want 0 month", r.Charge, r.Cap)
	}
}

func BenchmarkCap(b *testing.B) {
	tab := hanoi(b)
	today, month, fare := vnd(24000), vnd(120000), vnd(15000)
	b.ReportAllocs()
	for b.Loop() {
		tab.Cap("hn2a", "adult", today, month, fare)
	}
}
