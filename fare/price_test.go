package fare

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func hanoi(tb testing.TB) *Table {
	tb.Helper()
	t, err := Hanoi()
	if err != nil {
		tb.Fatalf("shipped Hanoi data: %v", err)
	}
	return t
}

func vnd(n int64) decimal.Decimal { return decimal.NewFromInt(n) }

// Expected fares are worked by hand from the README: 7.000 + 600 × km, up to
// the next 1.000, within 8.000-15.000, km from the chainage table.
func TestPriceLine2A(t *testing.T) {
	tab := hanoi(t)
	for _, tc := range []struct {
		from, to string
		want     int64
	}{
		// From Cát Linh outwards.
		{"hn2a-cat-linh", "hn2a-la-thanh", 8000},      // 0.90 km: 7.540
		{"hn2a-cat-linh", "hn2a-thai-ha", 9000},       // 1.80 km: 8.080
		{"hn2a-cat-linh", "hn2a-lang", 9000},          // 2.75 km: 8.650
		{"hn2a-cat-linh", "hn2a-thuong-dinh", 10000},  // 3.90 km: 9.340
		{"hn2a-cat-linh", "hn2a-vanh-dai-3", 11000},   // 5.45 km: 10.270
		{"hn2a-cat-linh", "hn2a-phung-khoang", 11000}, // 6.45 km: 10.870
		{"hn2a-cat-linh", "hn2a-van-quan", 12000},     // 7.50 km: 11.500
		{"hn2a-cat-linh", "hn2a-ha-dong", 13000},      // 8.85 km: 12.310
		{"hn2a-cat-linh", "hn2a-la-khe", 14000},       // 10.15 km: 13.090
		{"hn2a-cat-linh", "hn2a-van-khe", 14000},      // 11.45 km: 13.870
		{"hn2a-cat-linh", "hn2a-yen-nghia", 15000},    // 13.05 km: 14.830, end to end
		// Into Yên Nghĩa.
		{"hn2a-la-thanh", "hn2a-yen-nghia", 15000},     // 12.15 km: 14.290
		{"hn2a-thai-ha", "hn2a-yen-nghia", 14000},      // 11.25 km: 13.750
		{"hn2a-lang", "hn2a-yen-nghia", 14000},         // 10.30 km: 13.180
		{"hn2a-thuong-dinh", "hn2a-yen-nghia", 13000},  // 9.15 km: 12.490
		{"hn2a-vanh-dai-3", "hn2a-yen-nghia", 12000},   // 7.60 km: 11.560
		{"hn2a-phung-khoang", "hn2a-yen-nghia", 11000}, // 6.60 km: 10.960
		{"hn2a-van-quan", "hn2a-yen-nghia", 11000},     // 5.55 km: 10.330
		{"hn2a-ha-dong", "hn2a-yen-nghia", 10000},      // 4.20 km: 9.520
		{"hn2a-la-khe", "hn2a-yen-nghia", 9000},        // 2.90 km: 8.740
		{"hn2a-van-khe", "hn2a-yen-nghia", 8000},       // 1.60 km: 7.960, longest hop
		// In between.
		{"hn2a-thai-ha", "hn2a-ha-dong", 12000},       // 7.05 km: 11.230
		{"hn2a-lang", "hn2a-van-quan", 10000},         // 4.75 km: 9.850
		{"hn2a-vanh-dai-3", "hn2a-ha-dong", 10000},    // 3.40 km: 9.040
		{"hn2a-thuong-dinh", "hn2a-vanh-dai-3", 8000}, // 1.55 km: 7.930
		{"hn2a-phung-khoang", "hn2a-la-khe", 10000},   // 3.70 km: 9.220
		{"hn2a-la-thanh", "hn2a-vanh-dai-3", 10000},   // 4.55 km: 9.730
		{"hn2a-thai-ha", "hn2a-thuong-dinh", 9000},    // 2.10 km: 8.260
		// Backwards: same fares.
		{"hn2a-yen-nghia", "hn2a-cat-linh", 15000},
		{"hn2a-ha-dong", "hn2a-thai-ha", 12000},
		{"hn2a-la-khe", "hn2a-phung-khoang", 10000},
	} {
		q, err := tab.Price(tc.from, tc.to)
		if err != nil {
			t.Errorf("Price(%s, %s): %v", tc.from, tc.to, err)
			continue
		}
		if !q.Amount.Equal(vnd(tc.want)) {
			t.Errorf("Price(%s, %s) = %s, want %d", tc.from, tc.to, q.Amount, tc.want)
		}
		if want := "hn2a-" + vnd(tc.want).String(); q.ProductID != want {
			t.Errorf("Price(%s, %s) product = %q, want %q", tc.from, tc.to, q.ProductID, want)
		}
		if q.NetworkID != "hn2a" || q.OperatorID != "hanoi-metro" {
			t.Errorf("Price(%s, %s) network/operator = %q/%q", tc.from, tc.to, q.NetworkID, q.OperatorID)
		}
	}
}

func TestPriceNamesTheRule(t *testing.T) {
	q, err := hanoi(t).Price("hn2a-cat-linh", "hn2a-la-thanh")
	if err != nil {
		t.Fatal(err)
	}
	// First data row of the generated matrix.
	if q.RuleID != "fare_leg_rules.txt:2" {
		t.Errorf("RuleID = %q, want fare_leg_rules.txt:2", q.RuleID)
	}
	if q.Amount.String() != "8000" {
		t.Errorf("amount prints %q, want 8000 (whole dong)", q.Amount.String())
	}
}

func TestPriceSameStation(t *testing.T) {
	q, err := hanoi(t).Price("hn2a-ha-dong", "hn2a-ha-dong")
	if err != nil {
		t.Fatal(err)
	}
	want := Quote{Amount: vnd(8000), ProductID: "hn2a-8000", RuleID: SameStationRuleID, NetworkID: "hn2a", OperatorID: "hanoi-metro", Category: "adult", ProductRowID: "fare_products.txt:2"}
	if !sameQuote(q, want) {
		t.Errorf("same station = %+v, want %+v", q, want)
	}
}

func TestPriceErrors(t *testing.T) {
	tab := hanoi(t)
	for _, tc := range []struct {
		from, to string
		want     error
	}{
		{"hn2a-nowhere", "hn2a-ha-dong", ErrUnknownStop},
		{"hn2a-ha-dong", "hn2a-nowhere", ErrUnknownStop},
		{"", "", ErrUnknownStop},
		{"Hà Đông", "hn2a-cat-linh", ErrUnknownStop}, // names are not ids
	} {
		_, err := tab.Price(tc.from, tc.to)
		if !errors.Is(err, tc.want) {
			t.Errorf("Price(%q, %q) err = %v, want %v", tc.from, tc.to, err, tc.want)
		}
	}
}

func TestMinMaxFare(t *testing.T) {
	tab := hanoi(t)
	if got := tab.MinFare("hn2a"); !got.Equal(vnd(8000)) {
		t.Errorf("MinFare(hn2a) = %s, want 8000", got)
	}
	if got := tab.MaxFare("hn2a"); !got.Equal(vnd(15000)) {
		t.Errorf("MaxFare(hn2a) = %s, want 15000", got)
	}
	if got := tab.MaxFare("hn9"); !got.IsZero() {
		t.Errorf("MaxFare(unknown) = %s, want 0", got)
	}
	if got := tab.MinFare("hn9"); !got.IsZero() {
		t.Errorf("MinFare(unknown) = %s, want 0", got)
	}
}

func BenchmarkPrice(b *testing.B) {
	tab := hanoi(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tab.Price("hn2a-cat-linh", "hn2a-yen-nghia"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPriceAllPairs(b *testing.B) {
	tab := hanoi(b)
	var pairs [][2]string
	for _, s := range tab.Stops() {
		for _, d := range tab.Stops() {
			if s.NetworkID == d.NetworkID {
				pairs = append(pairs, [2]string{s.ID, d.ID})
			}
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := pairs[i%len(pairs)]
		if _, err := tab.Price(p[0], p[1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkPriceFor(b *testing.B) {
	tab := hanoi(b)
	q := Query{From: "hn3-nhon", To: "hn3-ga-ha-noi", Category: "student", At: time.Date(2026, 2, 2, 8, 0, 0, 0, Zone)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tab.PriceFor(q); err != nil {
			b.Fatal(err)
		}
	}
}

// The hot path does not allocate: a gate waits on it.
func TestPriceForDoesNotAllocate(t *testing.T) {
	tab := hanoi(t)
	for _, q := range []Query{
		{From: "hn2a-cat-linh", To: "hn2a-yen-nghia"},
		{From: "hn3-nhon", To: "hn3-ga-ha-noi", Category: "senior_60_plus"},
		{From: "hn2a-lang", To: "hn2a-lang", Category: "student"},
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = tab.PriceFor(q) }); n != 0 {
			t.Errorf("PriceFor(%+v) allocates %v times", q, n)
		}
	}
}
