package fare

import (
	"io/fs"
	"os"
	"strings"
	"testing"
)

type stationID struct{ id, name string }

var line2A = []stationID{
	{"hn2a-cat-linh", "Cát Linh"},
	{"hn2a-la-thanh", "La Thành"},
	{"hn2a-thai-ha", "Thái Hà"},
	{"hn2a-lang", "Láng"},
	{"hn2a-thuong-dinh", "Thượng Đình"},
	{"hn2a-vanh-dai-3", "Vành Đai 3"},
	{"hn2a-phung-khoang", "Phùng Khoang"},
	{"hn2a-van-quan", "Văn Quán"},
	{"hn2a-ha-dong", "Hà Đông"},
	{"hn2a-la-khe", "La Khê"},
	{"hn2a-van-khe", "Văn Khê"},
	{"hn2a-yen-nghia", "Yên Nghĩa"},
}

var line3 = []stationID{
	{"hn3-nhon", "Nhổn"},
	{"hn3-minh-khai", "Minh Khai"},
	{"hn3-phu-dien", "Phú Diễn"},
	{"hn3-cau-dien", "Cầu Diễn"},
	{"hn3-le-duc-tho", "Lê Đức Thọ"},
	{"hn3-dai-hoc-quoc-gia", "Đại học Quốc gia"},
	{"hn3-chua-ha", "Chùa Hà"},
	{"hn3-cau-giay", "Cầu Giấy"},
	{"hn3-kim-ma", "Kim Mã"},
	{"hn3-cat-linh", "Cát Linh"},
	{"hn3-van-mieu", "Văn Miếu"},
	{"hn3-ga-ha-noi", "Ga Hà Nội"},
}

var lineHCM1 = []stationID{
	{"hcm1-ben-thanh", "Bến Thành"},
	{"hcm1-nha-hat-thanh-pho", "Nhà hát Thành phố"},
	{"hcm1-ba-son", "Ba Son"},
	{"hcm1-van-thanh", "Văn Thánh"},
	{"hcm1-tan-cang", "Tân Cảng"},
	{"hcm1-thao-dien", "Thảo Điền"},
	{"hcm1-an-phu", "An Phú"},
	{"hcm1-rach-chiec", "Rạch Chiếc"},
	{"hcm1-phuoc-long", "Phước Long"},
	{"hcm1-binh-thai", "Bình Thái"},
	{"hcm1-thu-duc", "Thủ Đức"},
	{"hcm1-khu-cong-nghe-cao", "Khu Công nghệ cao"},
	{"hcm1-dai-hoc-quoc-gia", "Đại học Quốc gia"},
	{"hcm1-ben-xe-suoi-tien", "Bến xe Suối Tiên"},
}

// shippedLine describes one line of the shipped data and what it must hold.
type shippedLine struct {
	network, name, operator string
	stations                []stationID
	min, max                int64    // adult single fares
	concessions             []string // paying categories beyond adult
}

var (
	hanoiLines = []shippedLine{
		{"hn2a", "Tuyến 2A Cát Linh - Hà Đông", "hanoi-metro", line2A, 8000, 15000, []string{"student", "worker_industrial_zone"}},
		{"hn3", "Tuyến 3 Nhổn - ga Hà Nội", "hanoi-metro", line3, 8000, 14000, []string{"student"}},
	}
	hcmcLines = []shippedLine{
		{"hcm1", "Tuyến số 1 Bến Thành - Suối Tiên", "hurc1", lineHCM1, 6000, 19000, []string{"student"}},
	}
	freeCategories = []string{"child_under_6", "senior_60_plus", "disabled", "meritorious"}
)

func hcmc(tb testing.TB) *Table {
	tb.Helper()
	t, err := HCMC()
	if err != nil {
		tb.Fatalf("shipped HCMC data: %v", err)
	}
	return t
}

// The shipped data prices every ordered pair of distinct stations of a line,
// for every category the line sells, from an explicit fare_leg_rules.txt row:
// adults and concessions within the published range, free categories 0.
func TestShippedDataCoversEveryPair(t *testing.T) {
	for _, city := range []struct {
		tab   *Table
		lines []shippedLine
	}{{hanoi(t), hanoiLines}, {hcmc(t), hcmcLines}} {
		for _, ln := range city.lines {
			rules := make(map[string]bool)
			for _, a := range ln.stations {
				for _, b := range ln.stations {
					if a == b {
						continue
					}
					adult, err := city.tab.Price(a.id, b.id)
					if err != nil {
						t.Fatalf("Price(%s, %s): %v", a.id, b.id, err)
					}
					if !strings.HasPrefix(adult.RuleID, "fare_leg_rules.txt:") || rules[adult.RuleID] {
						t.Errorf("Price(%s, %s) RuleID = %q, want a row of its own", a.id, b.id, adult.RuleID)
					}
					rules[adult.RuleID] = true
					if adult.Amount.LessThan(vnd(ln.min)) || adult.Amount.GreaterThan(vnd(ln.max)) || !adult.Amount.IsInteger() {
						t.Errorf("Price(%s, %s) = %s, outside whole %d-%d", a.id, b.id, adult.Amount, ln.min, ln.max)
					}
					for _, c := range append(append([]string{}, freeCategories...), ln.concessions...) {
						q, err := city.tab.PriceFor(Query{From: a.id, To: b.id, Category: c})
						if err != nil {
							t.Fatalf("PriceFor(%s, %s, %s): %v", a.id, b.id, c, err)
						}
						want := adult.Amount
						if isFree(c) {
							want = vnd(0)
						}
						if !q.Amount.Equal(want) || q.RuleID != adult.RuleID || q.ProductID != adult.ProductID || q.Category != c {
							t.Errorf("PriceFor(%s, %s, %s) = %+v, want %s by %s", a.id, b.id, c, q, want, adult.RuleID)
						}
					}
				}
			}
			if n := len(ln.stations) * (len(ln.stations) - 1); len(rules) != n {
				t.Errorf("%s: %d rules used, want %d", ln.network, len(rules), n)
			}
			if got := city.tab.MinFare(ln.network); !got.Equal(vnd(ln.min)) {
				t.Errorf("MinFare(%s) = %s, want %d", ln.network, got, ln.min)
			}
			if got := city.tab.MaxFare(ln.network); !got.Equal(vnd(ln.max)) {
				t.Errorf("MaxFare(%s) = %s, want %d", ln.network, got, ln.max)
			}
		}
	}
}

func isFree(category string) bool {
	for _, c := range freeCategories {
		if c == category {
			return true
		}
	}
	return false
}

func TestShippedStops(t *testing.T) {
	for _, city := range []struct {
		tab   *Table
		lines []shippedLine
	}{{hanoi(t), hanoiLines}, {hcmc(t), hcmcLines}} {
		var want []Stop
		for _, ln := range city.lines {
			for _, s := range ln.stations {
				want = append(want, Stop{ID: s.id, Name: s.name, NetworkID: ln.network, AreaID: s.id, OperatorID: ln.operator})
			}
			n, ok := city.tab.Network(ln.network)
			if !ok || n.OperatorID != ln.operator || n.Name != ln.name {
				t.Errorf("Network(%s) = %+v, %v", ln.network, n, ok)
			}
		}
		got := city.tab.Stops()
		if len(got) != len(want) {
			t.Fatalf("%d stops, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("stop %d = %+v, want %+v", i, got[i], want[i])
			}
			if s, ok := city.tab.Stop(want[i].ID); !ok || s != want[i] {
				t.Errorf("Stop(%q) = %+v, %v", want[i].ID, s, ok)
			}
		}
		if got := city.tab.DefaultRiderCategory(); got != "adult" {
			t.Errorf("DefaultRiderCategory = %q, want adult", got)
		}
	}
	if _, ok := hanoi(t).Stop("hcm1-ben-thanh"); ok {
		t.Error("the Hanoi feed knows an HCMC stop")
	}
	if got := strings.Join(hanoi(t).RiderCategories(), ","); got != "adult,child_under_6,senior_60_plus,disabled,meritorious,student,worker_industrial_zone" {
		t.Errorf("Hanoi categories %s", got)
	}
	if got := strings.Join(hcmc(t).RiderCategories(), ","); got != "adult,child_under_6,senior_60_plus,disabled,meritorious,student" {
		t.Errorf("HCMC categories %s", got)
	}
}

// Exact fares at the corners of every line's matrix: both ends, the
// adjacent stations at each end, and the interchange. Worked by hand from the
// READMEs: fare = base + perKm × km, up to the next 1.000, within [min, max].
func TestShippedMatrixCorners(t *testing.T) {
	hn, hc := hanoi(t), hcmc(t)
	for _, tc := range []struct {
		tab      *Table
		from, to string
		want     int64
	}{
		// Line 2A: 7.000 + 600/km.
		{hn, "hn2a-cat-linh", "hn2a-yen-nghia", 15000}, // 13.05 km: 14.830
		{hn, "hn2a-yen-nghia", "hn2a-cat-linh", 15000},
		{hn, "hn2a-cat-linh", "hn2a-la-thanh", 8000},   // 0.90 km: 7.540
		{hn, "hn2a-la-thanh", "hn2a-cat-linh", 8000},   //
		{hn, "hn2a-van-khe", "hn2a-yen-nghia", 8000},   // 1.60 km: 7.960
		{hn, "hn2a-yen-nghia", "hn2a-van-khe", 8000},   //
		{hn, "hn2a-la-thanh", "hn2a-yen-nghia", 15000}, // 12.15 km: 14.290

		// Line 3: 7.000 + 500/km.
		{hn, "hn3-nhon", "hn3-ga-ha-noi", 14000}, // 12.50 km: 13.250, the whole line
		{hn, "hn3-ga-ha-noi", "hn3-nhon", 14000},
		{hn, "hn3-nhon", "hn3-cau-giay", 12000},     // 8.50 km: 11.250, the open elevated section
		{hn, "hn3-cau-giay", "hn3-nhon", 12000},     //
		{hn, "hn3-nhon", "hn3-minh-khai", 8000},     // 1.80 km: 7.900
		{hn, "hn3-minh-khai", "hn3-nhon", 8000},     //
		{hn, "hn3-van-mieu", "hn3-ga-ha-noi", 8000}, // 0.60 km: 7.300
		{hn, "hn3-ga-ha-noi", "hn3-van-mieu", 8000}, //
		{hn, "hn3-nhon", "hn3-cat-linh", 13000},     // 11.00 km: 12.500, to the interchange
		{hn, "hn3-cau-giay", "hn3-cat-linh", 9000},  // 2.50 km: 8.250
		{hn, "hn3-chua-ha", "hn3-cau-giay", 8000},   // 1.00 km: 7.500

		// HCMC Line 1, cashless: 5.000 + 700/km.
		{hc, "hcm1-ben-thanh", "hcm1-ben-xe-suoi-tien", 19000}, // 19.70 km: 18.790
		{hc, "hcm1-ben-xe-suoi-tien", "hcm1-ben-thanh", 19000},
		{hc, "hcm1-ben-thanh", "hcm1-nha-hat-thanh-pho", 6000},         // 0.75 km: 5.525
		{hc, "hcm1-nha-hat-thanh-pho", "hcm1-ben-thanh", 6000},         //
		{hc, "hcm1-dai-hoc-quoc-gia", "hcm1-ben-xe-suoi-tien", 7000},   // 2.15 km: 6.505
		{hc, "hcm1-ben-xe-suoi-tien", "hcm1-dai-hoc-quoc-gia", 7000},   //
		{hc, "hcm1-nha-hat-thanh-pho", "hcm1-ben-xe-suoi-tien", 19000}, // 18.95 km: 18.265
		{hc, "hcm1-ba-son", "hcm1-ben-xe-suoi-tien", 18000},            // 18.05 km: 17.635
		{hc, "hcm1-ben-thanh", "hcm1-thu-duc", 15000},                  // 13.30 km: 14.310
		{hc, "hcm1-thu-duc", "hcm1-khu-cong-nghe-cao", 7000},           // 2.55 km: 6.785
		{hc, "hcm1-van-thanh", "hcm1-tan-cang", 6000},                  // 1.00 km: 5.700
	} {
		q, err := tc.tab.Price(tc.from, tc.to)
		if err != nil {
			t.Errorf("Price(%s, %s): %v", tc.from, tc.to, err)
			continue
		}
		if !q.Amount.Equal(vnd(tc.want)) {
			t.Errorf("Price(%s, %s) = %s, want %d", tc.from, tc.to, q.Amount, tc.want)
		}
		network := tc.from[:strings.Index(tc.from, "-")]
		if want := network + "-" + vnd(tc.want).String(); q.ProductID != want {
			t.Errorf("Price(%s, %s) product = %q, want %q", tc.from, tc.to, q.ProductID, want)
		}
	}
}

// Within each line, fares are symmetric, adjacent stations cost the line's
// minimum or one step more, and going further never costs less.
func TestShippedFaresShape(t *testing.T) {
	for _, city := range []struct {
		tab   *Table
		lines []shippedLine
	}{{hanoi(t), hanoiLines}, {hcmc(t), hcmcLines}} {
		for _, ln := range city.lines {
			s := ln.stations
			price := func(i, j int) Quote {
				q, err := city.tab.Price(s[i].id, s[j].id)
				if err != nil {
					t.Fatal(err)
				}
				return q
			}
			for i := range s {
				prev := vnd(0)
				for j := i + 1; j < len(s); j++ {
					ab, ba := price(i, j), price(j, i)
					if !ab.Amount.Equal(ba.Amount) {
						t.Errorf("%s->%s = %s but back %s", s[i].id, s[j].id, ab.Amount, ba.Amount)
					}
					if ab.Amount.LessThan(prev) {
						t.Errorf("%s->%s = %s, less than the stop before (%s)", s[i].id, s[j].id, ab.Amount, prev)
					}
					if j == i+1 && ab.Amount.GreaterThan(vnd(ln.min+1000)) {
						t.Errorf("adjacent %s->%s = %s", s[i].id, s[j].id, ab.Amount)
					}
					prev = ab.Amount
				}
			}
		}
	}
}

// An operator's directory loads through the same path as the embedded data.
func TestLoadFromDirectory(t *testing.T) {
	for _, c := range []struct {
		dir string
		emb fs.FS
	}{{"data/hanoi", HanoiData()}, {"data/hcmc", HCMCData()}} {
		dir, err := LoadGTFS(os.DirFS(c.dir))
		if err != nil {
			t.Fatal(err)
		}
		emb, err := LoadGTFS(c.emb)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range emb.Stops() {
			for _, b := range emb.Stops() {
				for _, cat := range emb.RiderCategories() {
					q := Query{From: a.ID, To: b.ID, Category: cat}
					qe, err1 := emb.PriceFor(q)
					qd, err2 := dir.PriceFor(q)
					if (err1 == nil) != (err2 == nil) || (err1 == nil && !sameQuote(qe, qd)) {
						t.Fatalf("%+v: embedded %+v %v, directory %+v %v", q, qe, err1, qd, err2)
					}
				}
			}
		}
	}
}

// sameQuote compares by value: decimals hold a pointer, so == compares identity.
func sameQuote(a, b Quote) bool {
	return a.Amount.Equal(b.Amount) && a.ProductID == b.ProductID && a.RuleID == b.RuleID &&
		a.NetworkID == b.NetworkID && a.OperatorID == b.OperatorID && a.Category == b.Category &&
		a.ProductRowID == b.ProductRowID
}
