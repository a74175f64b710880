package fare

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// local is a wall-clock time in Hanoi on 2 Feb 2026.
func local(hour, min, sec int) time.Time {
	return time.Date(2026, 2, 2, hour, min, sec, 0, Zone)
}

// The shipped 2A <-> 3 transfer at Cát Linh: within 60 minutes of tapping out,
// the next leg costs its fare minus 7.000, never less than 0 and never more
// of a discount than the first leg cost.
func TestTransferCatLinh(t *testing.T) {
	tab := hanoi(t)
	const (
		toCL   = "fare_transfer_rules.txt:2" // 2A into Cát Linh, then Line 3
		fromCL = "fare_transfer_rules.txt:3" // Line 3 into Cát Linh, then 2A
	)
	exit := local(8, 0, 0)
	leg := func(from, to string, entry, exit time.Time, category string, charged int64) Leg {
		return Leg{From: from, To: to, EntryAt: entry, ExitAt: exit, Category: category, Charged: vnd(charged)}
	}
	yenNghiaCatLinh := leg("hn2a-yen-nghia", "hn2a-cat-linh", exit.Add(-30*time.Minute), exit, "", 15000)
	for _, tc := range []struct {
		name             string
		prev, next       Leg
		rule             string
		charge, next0    int64 // what next costs, and alone
		journey          int64
		wantAdjustment   int64
		wantTransferType int
	}{
		{"2A then 3", yenNghiaCatLinh,
			leg("hn3-cat-linh", "hn3-nhon", exit.Add(10*time.Minute), exit.Add(40*time.Minute), "", 0),
			toCL, 6000, 13000, 21000, -7000, 1},
		{"3 then 2A", leg("hn3-nhon", "hn3-cat-linh", exit.Add(-30*time.Minute), exit, "", 13000),
			leg("hn2a-cat-linh", "hn2a-ha-dong", exit.Add(5*time.Minute), exit.Add(25*time.Minute), "", 0),
			fromCL, 6000, 13000, 19000, -7000, 1},
		{"short second leg", yenNghiaCatLinh,
			leg("hn3-cat-linh", "hn3-van-mieu", exit.Add(5*time.Minute), exit.Add(8*time.Minute), "", 0),
			toCL, 1000, 8000, 16000, -7000, 1},
		{"exactly 60 minutes", yenNghiaCatLinh,
			leg("hn3-cat-linh", "hn3-nhon", exit.Add(time.Hour), exit.Add(90*time.Minute), "", 0),
			toCL, 6000, 13000, 21000, -7000, 1},
		{"60 minutes and a second", yenNghiaCatLinh,
			leg("hn3-cat-linh", "hn3-nhon", exit.Add(time.Hour+time.Second), exit.Add(90*time.Minute), "", 0),
			"", 13000, 13000, 28000, 0, 0},
		{"next entered before prev left", yenNghiaCatLinh,
			leg("hn3-cat-linh", "hn3-nhon", exit.Add(-time.Second), exit.Add(30*time.Minute), "", 0),
			"", 13000, 13000, 28000, 0, 0},
		{"same instant", yenNghiaCatLinh,
			leg("hn3-cat-linh", "hn3-nhon", exit, exit.Add(30*time.Minute), "", 0),
			toCL, 6000, 13000, 21000, -7000, 1},
		{"across midnight", leg("hn2a-ha-dong", "hn2a-cat-linh", local(23, 30, 0), local(23, 50, 0), "", 13000),
			leg("hn3-cat-linh", "hn3-cau-giay", local(23, 50, 0).Add(30*time.Minute), local(23, 50, 0).Add(40*time.Minute), "", 0),
			toCL, 2000, 9000, 15000, -7000, 1},
		{"not at Cát Linh", leg("hn2a-yen-nghia", "hn2a-thai-ha", exit.Add(-30*time.Minute), exit, "", 14000),
			leg("hn3-cau-giay", "hn3-nhon", exit.Add(20*time.Minute), exit.Add(40*time.Minute), "", 0),
			"", 12000, 12000, 26000, 0, 0},
		{"back onto the same line", yenNghiaCatLinh,
			leg("hn2a-cat-linh", "hn2a-lang", exit.Add(5*time.Minute), exit.Add(15*time.Minute), "", 0),
			"", 9000, 9000, 24000, 0, 0},
		{"3 to 2A through Cát Linh but leaving 3 elsewhere", leg("hn3-nhon", "hn3-kim-ma", exit.Add(-30*time.Minute), exit, "", 12000),
			leg("hn2a-cat-linh", "hn2a-lang", exit.Add(15*time.Minute), exit.Add(25*time.Minute), "", 0),
			"", 9000, 9000, 21000, 0, 0},
		{"student", leg("hn2a-yen-nghia", "hn2a-cat-linh", exit.Add(-30*time.Minute), exit, "student", 15000),
			leg("hn3-cat-linh", "hn3-nhon", exit.Add(10*time.Minute), exit.Add(40*time.Minute), "student", 0),
			toCL, 6000, 13000, 21000, -7000, 1},
		{"free rider", leg("hn2a-yen-nghia", "hn2a-cat-linh", exit.Add(-30*time.Minute), exit, "senior_60_plus", 0),
			leg("hn3-cat-linh", "hn3-nhon", exit.Add(10*time.Minute), exit.Add(40*time.Minute), "senior_60_plus", 0),
			toCL, 0, 0, 0, 0, 1},
		{"first leg on a pass", leg("hn2a-yen-nghia", "hn2a-cat-linh", exit.Add(-30*time.Minute), exit, "", 0),
			leg("hn3-cat-linh", "hn3-nhon", exit.Add(10*time.Minute), exit.Add(40*time.Minute), "", 0),
			toCL, 13000, 13000, 13000, 0, 1},
		{"first leg capped part way", leg("hn2a-yen-nghia", "hn2a-cat-linh", exit.Add(-30*time.Minute), exit, "", 3000),
			leg("hn3-cat-linh", "hn3-nhon", exit.Add(10*time.Minute), exit.Add(40*time.Minute), "", 0),
			toCL, 10000, 13000, 13000, -3000, 1},
		{"worker: adult on Line 3", leg("hn2a-yen-nghia", "hn2a-cat-linh", exit.Add(-30*time.Minute), exit, "worker_industrial_zone", 15000),
			leg("hn3-cat-linh", "hn3-nhon", exit.Add(10*time.Minute), exit.Add(40*time.Minute), "adult", 0),
			toCL, 6000, 13000, 21000, -7000, 1},
	} {
		q, err := tab.Transfer(tc.prev, tc.next)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if q.RuleID != tc.rule || !q.Charge.Equal(vnd(tc.charge)) || !q.Next.Amount.Equal(vnd(tc.next0)) ||
			!q.Journey.Equal(vnd(tc.journey)) || !q.Adjustment.Equal(vnd(tc.wantAdjustment)) || q.FareTransferType != tc.wantTransferType {
			t.Errorf("%s: rule %q type %d charge %s (alone %s, adjusted %s), journey %s; want %q %d %d (%d, %d), %d",
				tc.name, q.RuleID, q.FareTransferType, q.Charge, q.Next.Amount, q.Adjustment, q.Journey,
				tc.rule, tc.wantTransferType, tc.charge, tc.next0, tc.wantAdjustment, tc.journey)
		}
		if tc.rule != "" && (q.ProductID != "hn-transfer-cat-linh" || q.ProductRowID != "fare_products.txt:110") {
			t.Errorf("%s: product %q row %q", tc.name, q.ProductID, q.ProductRowID)
		}
		if tc.rule == "" && (q.ProductID != "" || q.ProductRowID != "") {
			t.Errorf("%s: product %q row %q without a rule", tc.name, q.ProductID, q.ProductRowID)
		}
	}
}

func TestTransferErrors(t *testing.T) {
	tab := hanoi(t)
	ok := Leg{From: "hn2a-lang", To: "hn2a-cat-linh", EntryAt: local(8, 0, 0), ExitAt: local(8, 10, 0), Charged: vnd(9000)}
	next := Leg{From: "hn3-cat-linh", To: "hn3-nhon", EntryAt: local(8, 15, 0), ExitAt: local(8, 45, 0)}
	bad := Leg{From: "hn3-cat-linh", To: "hn3-nowhere", EntryAt: local(8, 15, 0)}
	if _, err := tab.Transfer(ok, bad); !errors.Is(err, ErrUnknownStop) {
		t.Errorf("unknown next stop: %v", err)
	}
	if _, err := tab.Transfer(bad, next); !errors.Is(err, ErrUnknownStop) {
		t.Errorf("unknown previous stop: %v", err)
	}
	if _, err := tab.Transfer(ok, Leg{From: "hn3-cat-linh", To: "hn3-nhon", Category: "nobody"}); !errors.Is(err, ErrUnknownCategory) {
		t.Errorf("unknown category: %v", err)
	}
	// Same station in and out: a leg with no group, so no transfer.
	same := Leg{From: "hn2a-cat-linh", To: "hn2a-cat-linh", EntryAt: local(8, 0, 0), ExitAt: local(8, 5, 0), Charged: vnd(8000)}
	if q, err := tab.Transfer(same, next); err != nil || q.RuleID != "" || !q.Charge.Equal(vnd(13000)) {
		t.Errorf("same-station first leg: %+v, %v", q, err)
	}
}

// The other fare_transfer_types, empty leg groups, duration limit types,
// transfer_count and category-specific transfer products, on a small feed:
// leg group g for journeys from a or b, h for journeys from c; a->b 8.000,
// a->c 9.000, c->a 9.000.
func TestTransferRules(t *testing.T) {
	at := local(9, 0, 0)
	ab := Leg{From: "a", To: "b", EntryAt: at.Add(-10 * time.Minute), ExitAt: at, Charged: vnd(8000)}
	ca := Leg{From: "c", To: "a", EntryAt: at.Add(5 * time.Minute), ExitAt: at.Add(20 * time.Minute)}
	ac := Leg{From: "a", To: "c", EntryAt: at.Add(5 * time.Minute), ExitAt: at.Add(20 * time.Minute)}
	products := productsHeader + baseProducts +
		"day,Day,adult,face,30000,VND,1,day\n" + // line 4
		"t,Transfer,,face,-1000,VND,,\n" + // line 5
		"up,Upgrade,adult,face,2000,VND,,\n" + // line 6
		"up,Upgrade,student,face,500,VND,,\n" + // line 7
		"through,Through,,face,12000,VND,,\n" // line 8
	for _, tc := range []struct {
		name      string
		rules     string
		prev      Leg
		next      Leg
		category  string
		rule      string
		charge    int64
		adjusted  int64
		transfers int
	}{
		{"type 0: A + AB", "g,h,,,,0,up\n", ab, ca, "", "fare_transfer_rules.txt:2", 2000, -7000, 1},
		{"type 0 per category", "g,h,,,,0,up\n", ab, ca, "student", "fare_transfer_rules.txt:2", 500, -8500, 1},
		{"type 0 without a product: next is free", "g,h,,,,0,\n", ab, ca, "", "fare_transfer_rules.txt:2", 0, -9000, 1},
		{"type 1 without a product: both fares", "g,h,,,,1,\n", ab, ca, "", "fare_transfer_rules.txt:2", 9000, 0, 1},
		{"type 2: AB for both", "g,h,,,,2,through\n", ab, ca, "", "fare_transfer_rules.txt:2", 4000, -5000, 1},
		{"type 2 below what was paid: nothing back", "g,h,,,,2,t\n", ab, ca, "", "fare_transfer_rules.txt:2", 0, -9000, 1},
		{"product not sold to the category", "g,h,,,,0,up\n", ab, ca, "senior", "", 9000, 0, 0},
		{"empty from: groups no rule names", ",h,,,,1,t\n", ab, ca, "", "fare_transfer_rules.txt:2", 8000, -1000, 1},
		{"empty from, but g is named elsewhere", ",h,,,,1,t\ng,g,-1,,,1,\n", ab, ca, "", "", 9000, 0, 0},
		{"exact match wins over empty", ",,-1,,,0,\ng,h,,,,1,t\n", ab, ca, "", "fare_transfer_rules.txt:3", 8000, -1000, 1},
		{"same group needs transfer_count", "g,g,1,,,0,\n", ab, ac, "", "fare_transfer_rules.txt:2", 0, -9000, 1},
		{"cheapest applicable rule", "g,h,,600,2,1,t\ng,h,,3600,2,0,up\n", ab, ca, "", "fare_transfer_rules.txt:3", 2000, -7000, 1},
		{"limit type 0: prev entry to next exit", "g,h,,1800,0,1,t\n", ab, ca, "", "fare_transfer_rules.txt:2", 8000, -1000, 1},
		{"limit type 0 exceeded", "g,h,,1799,0,1,t\n", ab, ca, "", "", 9000, 0, 0},
		{"limit type 1: entry to entry", "g,h,,900,1,1,t\n", ab, ca, "", "fare_transfer_rules.txt:2", 8000, -1000, 1},
		{"limit type 1 exceeded", "g,h,,899,1,1,t\n", ab, ca, "", "", 9000, 0, 0},
		{"limit type 2: exit to entry", "g,h,,300,2,1,t\n", ab, ca, "", "fare_transfer_rules.txt:2", 8000, -1000, 1},
		{"limit type 2 exceeded", "g,h,,299,2,1,t\n", ab, ca, "", "", 9000, 0, 0},
		{"limit type 3: exit to exit", "g,h,,1200,3,1,t\n", ab, ca, "", "fare_transfer_rules.txt:2", 8000, -1000, 1},
		{"limit type 3 exceeded", "g,h,,1199,3,1,t\n", ab, ca, "", "", 9000, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := baseFeed()
			set(fsys, "rider_categories.txt", categoriesHeader+"adult,Adult,1,,\nstudent,Student,0,,student\nsenior,Senior,0,,age>=60\n")
			set(fsys, "fare_products.txt", products+
				"p8,P8,student,face,8000,VND,,\np9,P9,student,face,9000,VND,,\n"+
				"p8,P8,senior,face,8000,VND,,\np9,P9,senior,face,9000,VND,,\n")
			set(fsys, "fare_leg_rules.txt", legRulesHeader+baseRules+",n,,,day,\n")
			set(fsys, "fare_transfer_rules.txt", transferHeader+tc.rules)
			tab, err := LoadGTFS(fsys)
			if err != nil {
				t.Fatal(err)
			}
			prev, next := tc.prev, tc.next
			prev.Category, next.Category = tc.category, tc.category
			q, err := tab.Transfer(prev, next)
			if err != nil {
				t.Fatal(err)
			}
			if q.RuleID != tc.rule || !q.Charge.Equal(vnd(tc.charge)) || !q.Adjustment.Equal(vnd(tc.adjusted)) {
				t.Errorf("rule %q charge %s adjusted %s; want %q %d %d", q.RuleID, q.Charge, q.Adjustment, tc.rule, tc.charge, tc.adjusted)
			}
			if !q.Journey.Equal(vnd(8000 + tc.charge)) {
				t.Errorf("journey %s, want 8000 + %d", q.Journey, tc.charge)
			}
		})
	}
}

// Random content as fare_transfer_rules.txt, with the other files valid:
// LoadGTFS never panics, every error points into fare_transfer_rules.txt, and
// a table that loads prices transfers without panicking and never charges
// below zero.
func FuzzLoadTransferRules(f *testing.F) {
	shipped, err := fs.ReadFile(HanoiData(), "fare_transfer_rules.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(shipped),
		transferHeader + "g,h,,600,2,1,t\n",
		transferHeader + ",,-1,,,2,p9\nh,h,3,60,0,0,\n",
		transferHeader + "g,h,,600,2,1,t\ng,h,,600,2,1,t\n",
		"fare_transfer_type\n1\n",
		"",
	} {
		f.Add(seed)
	}
	at := local(9, 0, 0)
	legs := []Leg{
		{From: "a", To: "b", EntryAt: at, ExitAt: at.Add(10 * time.Minute), Charged: vnd(8000)},
		{From: "c", To: "a", EntryAt: at.Add(15 * time.Minute), ExitAt: at.Add(30 * time.Minute), Charged: vnd(9000)},
		{From: "a", To: "c", EntryAt: at.Add(40 * time.Minute), ExitAt: at.Add(50 * time.Minute), Charged: vnd(0)},
	}
	f.Fuzz(func(t *testing.T, rules string) {
		fsys := baseFeed()
		passFeed(fsys)
		set(fsys, "fare_transfer_rules.txt", rules)
		tab, err := LoadGTFS(fsys)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fare_transfer_rules.txt:") {
					t.Fatalf("error line %q does not point into fare_transfer_rules.txt", line)
				}
			}
			return
		}
		for _, prev := range legs {
			for _, next := range legs {
				q, err := tab.Transfer(prev, next)
				if err != nil || q.Charge.IsNegative() || !q.Journey.Equal(prev.Charged.Add(q.Charge)) {
					t.Fatalf("Transfer(%+v, %+v) = %+v, %v", prev, next, q, err)
				}
			}
		}
	})
}

func BenchmarkTransfer(b *testing.B) {
	tab := hanoi(b)
	exit := local(8, 0, 0)
	prev := Leg{From: "hn2a-yen-nghia", To: "hn2a-cat-linh", EntryAt: exit.Add(-30 * time.Minute), ExitAt: exit, Charged: vnd(15000)}
	next := Leg{From: "hn3-cat-linh", To: "hn3-nhon", EntryAt: exit.Add(10 * time.Minute), ExitAt: exit.Add(40 * time.Minute)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tab.Transfer(prev, next); err != nil {
			b.Fatal(err)
		}
	}
}
