package fare

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// The test feed in testdata/timeframes (see its README): network tf, stops
// tf-a, tf-b, tf-c; single fares 10.000 (a-b, b-c) and 14.000 (a-c), half
// for students; off-peak 8.000 and 11.000 for adults whose entry and exit
// both fall between 09:00 and 16:00 or 20:00 and 24:00 on working days
// (rule_priority 1); free rides for everyone entering during the opening
// fortnight, 1-14 June 2026 (rule_priority 2).
const timeframeDir = "testdata/timeframes"

// timeframeFS is the test feed in memory, to edit.
func timeframeFS(tb testing.TB) fstest.MapFS {
	tb.Helper()
	fsys := make(fstest.MapFS)
	err := fs.WalkDir(os.DirFS(timeframeDir), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".txt") {
			return err
		}
		data, err := os.ReadFile(timeframeDir + "/" + path)
		fsys[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return fsys
}

func timeframeFeed(tb testing.TB) *Table {
	tb.Helper()
	t, err := LoadGTFS(os.DirFS(timeframeDir))
	if err != nil {
		tb.Fatalf("%s: %v", timeframeDir, err)
	}
	return t
}

// ict is a wall-clock time in Hanoi and Ho Chi Minh City.
func ict(y int, m time.Month, d, h, min, s int) time.Time {
	return time.Date(y, m, d, h, min, s, 0, Zone)
}

// checkTimeframeLoadError is checkLoadError on the timeframes test feed.
func checkTimeframeLoadError(t *testing.T, edit func(fstest.MapFS), want string) {
	t.Helper()
	fsys := timeframeFS(t)
	edit(fsys)
	_, err := LoadGTFS(fsys)
	if err == nil {
		t.Fatalf("loaded, want error %q", want)
	}
	if err.Error() != want {
		t.Errorf("error:\n got %q\nwant %q", err.Error(), want)
	}
	var de *DataError
	if !errors.Is(err, ErrInvalidData) || !errors.As(err, &de) || !strings.HasPrefix(want, de.File) {
		t.Errorf("not a *DataError wrapping ErrInvalidData: %#v", err)
	}
}

// Every boundary of the test feed, with exact amounts and the rule that
// priced each journey.
func TestPriceForTimeframes(t *testing.T) {
	tab := timeframeFeed(t)
	const (
		base      = "fare_leg_rules.txt:4" // a-c, 14.000 (students 7.000)
		offpeak   = "fare_leg_rules.txt:10"
		opening   = "fare_leg_rules.txt:16"
		peakAC    = 14000
		offpeakAC = 11000
	)
	mon := func(h, m, s int) time.Time { return ict(2026, 2, 2, h, m, s) } // Monday 2 February 2026
	utc := func(m time.Month, d, h, min, s int) time.Time { return time.Date(2026, m, d, h, min, s, 0, time.UTC) }
	var none time.Time
	for _, tc := range []struct {
		name          string
		from, to, cat string
		at, exit      time.Time
		want          int64
		rule, row     string
	}{
		// Monday: off-peak from 09:00:00 included to 16:00:00 excluded.
		{"08:59:59 is peak", "tf-a", "tf-c", "", mon(8, 59, 59), mon(9, 20, 0), peakAC, base, "fare_products.txt:4"},
		{"09:00:00 is off-peak", "tf-a", "tf-c", "", mon(9, 0, 0), mon(9, 20, 0), offpeakAC, offpeak, "fare_products.txt:7"},
		{"08:59:59.999 is still peak", "tf-a", "tf-c", "", mon(8, 59, 59).Add(999 * time.Millisecond), mon(9, 20, 0), peakAC, base, "fare_products.txt:4"},
		{"in and out before 16:00:00", "tf-a", "tf-c", "", mon(15, 40, 0), mon(15, 59, 59), offpeakAC, offpeak, "fare_products.txt:7"},
		{"out at 15:59:59.999", "tf-a", "tf-c", "", mon(15, 40, 0), mon(15, 59, 59).Add(999 * time.Millisecond), offpeakAC, offpeak, "fare_products.txt:7"},
		{"out at 16:00:00: end excluded", "tf-a", "tf-c", "", mon(15, 40, 0), mon(16, 0, 0), peakAC, base, "fare_products.txt:4"},
		{"in at 16:00:00", "tf-a", "tf-c", "", mon(16, 0, 0), mon(16, 20, 0), peakAC, base, "fare_products.txt:4"},
		{"in at peak, out off-peak", "tf-a", "tf-c", "", mon(8, 50, 0), mon(9, 10, 0), peakAC, base, "fare_products.txt:4"},
		{"in one timeframe of the group, out in another", "tf-a", "tf-c", "", mon(15, 30, 0), mon(20, 10, 0), offpeakAC, offpeak, "fare_products.txt:7"},
		{"evening off-peak to 24:00:00", "tf-a", "tf-c", "", mon(23, 40, 0), mon(23, 59, 59), offpeakAC, offpeak, "fare_products.txt:7"},
		{"evening into the next morning", "tf-a", "tf-c", "", ict(2026, 2, 5, 23, 50, 0), ict(2026, 2, 6, 0, 10, 0), peakAC, base, "fare_products.txt:4"},

		// Unknown exit: taken to be at the entry.
		{"unknown exit, entry off-peak", "tf-a", "tf-c", "", mon(15, 59, 59), none, offpeakAC, offpeak, "fare_products.txt:7"},
		{"unknown exit, entry at 16:00:00", "tf-a", "tf-c", "", mon(16, 0, 0), none, peakAC, base, "fare_products.txt:4"},
		// No time at all: only rules without timeframes.
		{"no time", "tf-a", "tf-c", "", none, none, peakAC, base, "fare_products.txt:4"},
		{"no entry time, exit off-peak", "tf-a", "tf-c", "", none, mon(10, 0, 0), peakAC, base, "fare_products.txt:4"},

		// Days: weekends, a holiday removed from the working days, a
		// working Saturday added, the end of the service's dates.
		{"Sunday", "tf-a", "tf-c", "", ict(2026, 2, 1, 10, 0, 0), ict(2026, 2, 1, 10, 20, 0), peakAC, base, "fare_products.txt:4"},
		{"Saturday", "tf-a", "tf-c", "", ict(2026, 2, 7, 10, 0, 0), ict(2026, 2, 7, 10, 20, 0), peakAC, base, "fare_products.txt:4"},
		{"the day before the holiday", "tf-a", "tf-c", "", ict(2026, 4, 29, 10, 0, 0), ict(2026, 4, 29, 10, 20, 0), offpeakAC, offpeak, "fare_products.txt:7"},
		{"30 April, a Thursday removed", "tf-a", "tf-c", "", ict(2026, 4, 30, 10, 0, 0), ict(2026, 4, 30, 10, 20, 0), peakAC, base, "fare_products.txt:4"},
		{"1 May, a Friday removed", "tf-a", "tf-c", "", ict(2026, 5, 1, 21, 0, 0), ict(2026, 5, 1, 21, 20, 0), peakAC, base, "fare_products.txt:4"},
		{"25 April, a Saturday added", "tf-a", "tf-c", "", ict(2026, 4, 25, 10, 0, 0), ict(2026, 4, 25, 10, 20, 0), offpeakAC, offpeak, "fare_products.txt:7"},
		{"last day of the service", "tf-a", "tf-c", "", ict(2026, 12, 31, 10, 0, 0), none, offpeakAC, offpeak, "fare_products.txt:7"},
		{"after the service", "tf-a", "tf-c", "", ict(2027, 1, 4, 10, 0, 0), none, peakAC, base, "fare_products.txt:4"},

		// Local time, not UTC.
		{"Thursday 23:59:59 local is 16:59:59 UTC", "tf-a", "tf-c", "", utc(2, 5, 16, 59, 59), none, offpeakAC, offpeak, "fare_products.txt:7"},
		{"Friday 00:00:00 local is Thursday 17:00:00 UTC", "tf-a", "tf-c", "", utc(2, 5, 17, 0, 0), none, peakAC, base, "fare_products.txt:4"},
		{"Monday 09:30 local is 02:30 UTC", "tf-a", "tf-c", "", utc(2, 2, 2, 30, 0), utc(2, 2, 2, 50, 0), offpeakAC, offpeak, "fare_products.txt:7"},
		{"Friday 20:30 UTC is Saturday 03:30 local", "tf-a", "tf-c", "", utc(2, 6, 20, 30, 0), utc(2, 6, 20, 50, 0), peakAC, base, "fare_products.txt:4"},

		// rule_priority 2 (opening) over 1 (off-peak) over none.
		{"opening beats off-peak", "tf-a", "tf-c", "", ict(2026, 6, 1, 10, 0, 0), ict(2026, 6, 1, 10, 20, 0), 0, opening, "fare_products.txt:8"},
		{"opening at peak", "tf-a", "tf-c", "", ict(2026, 6, 1, 8, 0, 0), ict(2026, 6, 1, 8, 20, 0), 0, opening, "fare_products.txt:8"},
		{"opening, first second", "tf-a", "tf-c", "", ict(2026, 6, 1, 0, 0, 0), ict(2026, 6, 1, 0, 10, 0), 0, opening, "fare_products.txt:8"},
		{"the second before the opening", "tf-a", "tf-c", "", ict(2026, 5, 31, 23, 59, 59), ict(2026, 6, 1, 0, 10, 0), peakAC, base, "fare_products.txt:4"},
		{"opening, last second", "tf-a", "tf-c", "", ict(2026, 6, 14, 23, 59, 59), none, 0, opening, "fare_products.txt:8"},
		{"opening asks the entry only", "tf-a", "tf-c", "", ict(2026, 6, 14, 23, 50, 0), ict(2026, 6, 15, 0, 10, 0), 0, opening, "fare_products.txt:8"},
		{"after the opening", "tf-a", "tf-c", "", ict(2026, 6, 15, 10, 0, 0), none, offpeakAC, offpeak, "fare_products.txt:7"},

		// Other pairs and categories.
		{"a to b off-peak", "tf-a", "tf-b", "", mon(10, 0, 0), mon(10, 10, 0), 8000, "fare_leg_rules.txt:8", "fare_products.txt:6"},
		{"b to a peak", "tf-b", "tf-a", "adult", mon(8, 0, 0), mon(8, 10, 0), 10000, "fare_leg_rules.txt:3", "fare_products.txt:2"},
		{"c to b off-peak", "tf-c", "tf-b", "", mon(10, 0, 0), mon(10, 10, 0), 8000, "fare_leg_rules.txt:13", "fare_products.txt:6"},
		{"student at peak", "tf-a", "tf-c", "student", mon(8, 0, 0), mon(8, 20, 0), 7000, base, "fare_products.txt:5"},
		{"student off-peak: the off-peak fare is not sold to students", "tf-a", "tf-c", "student", mon(10, 0, 0), mon(10, 20, 0), 7000, base, "fare_products.txt:5"},
		{"student at the opening", "tf-a", "tf-c", "student", ict(2026, 6, 1, 10, 0, 0), none, 0, opening, "fare_products.txt:8"},
	} {
		q, err := tab.PriceFor(Query{From: tc.from, To: tc.to, Category: tc.cat, At: tc.at, ExitAt: tc.exit})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		cat := tc.cat
		if cat == "" {
			cat = "adult"
		}
		if !q.Amount.Equal(vnd(tc.want)) || q.RuleID != tc.rule || q.ProductRowID != tc.row || q.Category != cat || q.NetworkID != "tf" || q.OperatorID != "test-operator" {
			t.Errorf("%s: %s by %s (%s, %s); want %d by %s (%s)", tc.name, q.Amount, q.RuleID, q.ProductRowID, q.Category, tc.want, tc.rule, tc.row)
		}
	}
}

// Entering and leaving one station costs the cheapest fare that applies at
// the journey's times.
func TestPriceForTimeframesSameStation(t *testing.T) {
	tab := timeframeFeed(t)
	var none time.Time
	for _, tc := range []struct {
		name     string
		cat      string
		at, exit time.Time
		want     int64
		product  string
		row      string
	}{
		{"off-peak", "", ict(2026, 2, 2, 10, 0, 0), ict(2026, 2, 2, 10, 5, 0), 8000, "tf-offpeak-8000", "fare_products.txt:6"},
		{"peak", "", ict(2026, 2, 2, 8, 0, 0), ict(2026, 2, 2, 8, 5, 0), 10000, "tf-10000", "fare_products.txt:2"},
		{"out at 16:00:00", "", ict(2026, 2, 2, 15, 55, 0), ict(2026, 2, 2, 16, 0, 0), 10000, "tf-10000", "fare_products.txt:2"},
		{"opening", "", ict(2026, 6, 1, 10, 0, 0), none, 0, "tf-opening", "fare_products.txt:8"},
		{"student off-peak", "student", ict(2026, 2, 2, 10, 0, 0), none, 5000, "tf-10000", "fare_products.txt:3"},
		{"no time", "", none, none, 10000, "tf-10000", "fare_products.txt:2"},
	} {
		q, err := tab.PriceFor(Query{From: "tf-b", To: "tf-b", Category: tc.cat, At: tc.at, ExitAt: tc.exit})
		if err != nil || !q.Amount.Equal(vnd(tc.want)) || q.RuleID != SameStationRuleID || q.ProductID != tc.product || q.ProductRowID != tc.row {
			t.Errorf("%s: %+v, %v; want %d from %s (%s)", tc.name, q, err, tc.want, tc.product, tc.row)
		}
	}
}

// MinFare, MaxFare, Category, caps and passes over time-dependent fares.
func TestTimeframesBoundsCategoryCap(t *testing.T) {
	tab := timeframeFeed(t)
	for _, tc := range []struct {
		cat      string
		min, max int64
	}{
		{"", 0, 14000},       // the opening's 0, the peak 14.000
		{"adult", 0, 14000},  // the default, by name
		{"student", 0, 7000}, // the off-peak fares are not sold to students
		{"nobody", 0, 0},     // unknown category
	} {
		if got := tab.MinFareFor("tf", tc.cat); !got.Equal(vnd(tc.min)) {
			t.Errorf("MinFareFor(tf, %q) = %s, want %d", tc.cat, got, tc.min)
		}
		if got := tab.MaxFareFor("tf", tc.cat); !got.Equal(vnd(tc.max)) {
			t.Errorf("MaxFareFor(tf, %q) = %s, want %d", tc.cat, got, tc.max)
		}
	}
	if got := tab.Category(Rider{Age: 20, Student: true}, "tf"); got != "student" {
		t.Errorf("student rides as %q", got)
	}
	if got := tab.Category(Rider{Age: 70}, "tf"); got != "adult" {
		t.Errorf("senior rides as %q (the feed has no senior category)", got)
	}
	// Off-peak journeys at 11.000 under the 30.000 day pass: the third pays
	// the 8.000 left, the fourth nothing.
	spent := vnd(0)
	for i, want := range []int64{11000, 11000, 8000, 0} {
		q, err := tab.PriceFor(Query{From: "tf-a", To: "tf-c", At: ict(2026, 2, 2, 10+i, 0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		r := tab.Cap("tf", "adult", spent, spent, q.Amount)
		if !r.Charge.Equal(vnd(want)) || (want != 11000 && (r.Cap != CapDay || r.ProductID != "tf-day" || r.RuleID != "fare_products.txt:10")) {
			t.Errorf("journey %d: %+v, want %d", i+1, r, want)
		}
		spent = spent.Add(r.Charge)
	}
	p, err := tab.NewPass("tf-day", "student", ict(2026, 2, 2, 10, 0, 0))
	if err != nil || !p.Amount.Equal(vnd(15000)) || !PassCovers(p, "tf", ict(2026, 2, 2, 23, 59, 59)) || PassCovers(p, "tf", ict(2026, 2, 3, 0, 0, 0)) {
		t.Errorf("student day pass: %+v, %v", p, err)
	}
}

// A transfer rule between off-peak legs: each leg's group is that of the
// rule that prices it at its own times.
func TestTransferTimeframes(t *testing.T) {
	tab := timeframeFeed(t)
	mon := func(h, m int) time.Time { return ict(2026, 2, 2, h, m, 0) }
	leg := func(from, to string, in, out time.Time, cat string, charged int64) Leg {
		return Leg{From: from, To: to, EntryAt: in, ExitAt: out, Category: cat, Charged: vnd(charged)}
	}
	offpeakAB := leg("tf-a", "tf-b", mon(10, 0), mon(10, 15), "", 8000)
	for _, tc := range []struct {
		name         string
		prev, next   Leg
		rule         string
		alone, pays  int64
		wantJourney  int64
		wantAdjusted int64
	}{
		{"both off-peak, within 30 minutes", offpeakAB, leg("tf-b", "tf-c", mon(10, 20), mon(10, 35), "", 0),
			"fare_transfer_rules.txt:2", 8000, 6000, 14000, -2000},
		{"exactly 30 minutes", offpeakAB, leg("tf-b", "tf-c", mon(10, 45), mon(11, 0), "", 0),
			"fare_transfer_rules.txt:2", 8000, 6000, 14000, -2000},
		{"31 minutes", offpeakAB, leg("tf-b", "tf-c", mon(10, 46), mon(11, 0), "", 0),
			"", 8000, 8000, 16000, 0},
		{"first leg at peak", leg("tf-a", "tf-b", mon(8, 30), mon(8, 45), "", 10000), leg("tf-b", "tf-c", mon(9, 0), mon(9, 15), "", 0),
			"", 8000, 8000, 18000, 0},
		{"second leg leaves at 16:00", leg("tf-a", "tf-b", mon(15, 30), mon(15, 45), "", 8000), leg("tf-b", "tf-c", mon(15, 50), mon(16, 0), "", 0),
			"", 10000, 10000, 18000, 0},
		{"students pay the full fares: no off-peak group", leg("tf-a", "tf-b", mon(10, 0), mon(10, 15), "student", 5000), leg("tf-b", "tf-c", mon(10, 20), mon(10, 35), "student", 0),
			"", 5000, 5000, 10000, 0},
	} {
		q, err := tab.Transfer(tc.prev, tc.next)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if q.RuleID != tc.rule || !q.Next.Amount.Equal(vnd(tc.alone)) || !q.Charge.Equal(vnd(tc.pays)) ||
			!q.Journey.Equal(vnd(tc.wantJourney)) || !q.Adjustment.Equal(vnd(tc.wantAdjusted)) {
			t.Errorf("%s: rule %q, alone %s, pays %s, journey %s, adjusted %s", tc.name, q.RuleID, q.Next.Amount, q.Charge, q.Journey, q.Adjustment)
		}
	}
	// Set.Transfer passes the exit time on too.
	s, err := NewSet(tab)
	if err != nil {
		t.Fatal(err)
	}
	q, err := s.Transfer(offpeakAB, leg("tf-b", "tf-c", mon(15, 50), mon(16, 0), "", 0))
	if err != nil || !q.Charge.Equal(vnd(10000)) {
		t.Errorf("Set.Transfer: %+v, %v", q, err)
	}
}

// Rule ranking on small feeds: priorities, disjoint timeframes at one
// priority, clashes, fares that can never apply.
func TestTimeframeRules(t *testing.T) {
	const (
		calendar = "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n" +
			"weekdays,1,1,1,1,1,0,0,20260101,20261231\n" +
			"weekend,0,0,0,0,0,1,1,20260101,20261231\n"
		timeframes = "timeframe_group_id,start_time,end_time,service_id\n" +
			"peak,07:00:00,09:00:00,weekdays\n" +
			"offpeak,00:00:00,07:00:00,weekdays\n" +
			"offpeak,09:00:00,24:00:00,weekdays\n" +
			"offpeak,,,weekend\n" +
			"morning,06:00:00,12:00:00,weekdays\n" +
			"morning,06:00:00,12:00:00,weekend\n" +
			"never,06:00:00,12:00:00,none\n"
		header = "network_id,from_area_id,to_area_id,from_timeframe_group_id,to_timeframe_group_id,fare_product_id,rule_priority\n"
	)
	feed := func(rules string) fstest.MapFS {
		fsys := baseFeed()
		set(fsys, "calendar.txt", calendar)
		set(fsys, "calendar_dates.txt", "service_id,date,exception_type\nnone,20260101,2\n")
		set(fsys, "timeframes.txt", timeframes)
		set(fsys, "fare_products.txt", "fare_product_id,fare_product_name,rider_category_id,fare_media_id,amount,currency\n"+
			"p8,P8,adult,face,8000,VND\n"+ // line 2
			"p9,P9,adult,face,9000,VND\n"+ // line 3
			"p7,P7,adult,face,7000,VND\n"+ // line 4
			"any6,Any,,face,6000,VND\n"+ // line 5
			"s4,Student,student,face,4000,VND\n") // line 6
		set(fsys, "fare_leg_rules.txt", header+rules)
		return fsys
	}
	monday := func(h int) time.Time { return ict(2026, 2, 2, h, 0, 0) }
	saturday := ict(2026, 2, 7, 8, 0, 0)
	type price struct {
		cat      string
		at, exit time.Time
		want     int64
		rule     string
	}
	for _, tc := range []struct {
		name     string
		rules    string
		prices   []price
		min, max int64 // MinFare, MaxFare of n
	}{
		{"peak and off-peak partition the week, no priority",
			"n,a,b,peak,,p9,\nn,a,b,offpeak,,p8,\n",
			[]price{
				{"", monday(8), time.Time{}, 9000, "fare_leg_rules.txt:2"},
				{"", monday(9), time.Time{}, 8000, "fare_leg_rules.txt:3"},
				{"", monday(6), time.Time{}, 8000, "fare_leg_rules.txt:3"},
				{"", saturday, time.Time{}, 8000, "fare_leg_rules.txt:3"},
				{"", time.Time{}, time.Time{}, -1, ""}, // no time: no rule
			}, 8000, 9000},
		{"entry and exit groups",
			"n,a,b,peak,peak,p9,1\nn,a,b,,,p8,\n",
			[]price{
				{"", monday(7), monday(8), 9000, "fare_leg_rules.txt:2"},
				{"", monday(7), monday(9), 8000, "fare_leg_rules.txt:3"},
				{"", monday(6), monday(8), 8000, "fare_leg_rules.txt:3"},
			}, 8000, 9000},
		{"higher priority listed last",
			"n,a,b,,,p8,\nn,a,b,morning,,p7,5\nn,a,b,peak,,p9,7\n",
			[]price{
				{"", monday(8), time.Time{}, 9000, "fare_leg_rules.txt:4"},
				{"", monday(10), time.Time{}, 7000, "fare_leg_rules.txt:3"},
				{"", saturday, time.Time{}, 7000, "fare_leg_rules.txt:3"},
				{"", monday(13), time.Time{}, 8000, "fare_leg_rules.txt:2"},
			}, 7000, 9000},
		{"a fare under an always-applying one never applies, and is not a bound",
			"n,a,b,,,p8,3\nn,a,b,peak,,p9,1\nn,a,b,,,p7,\n",
			[]price{{"", monday(8), time.Time{}, 8000, "fare_leg_rules.txt:2"}},
			8000, 8000},
		{"the same timeframe at a higher priority hides a fare",
			"n,a,b,peak,,p9,2\nn,a,b,peak,,p7,1\nn,a,b,,,p8,\n",
			[]price{{"", monday(8), time.Time{}, 9000, "fare_leg_rules.txt:2"}, {"", monday(10), time.Time{}, 8000, "fare_leg_rules.txt:4"}},
			8000, 9000},
		{"a category's own row wins over any category at one priority",
			"n,a,b,,,p8,\nn,a,b,morning,,any6,\n",
			[]price{
				{"", monday(10), time.Time{}, 8000, "fare_leg_rules.txt:2"},
				{"student", monday(10), time.Time{}, 6000, "fare_leg_rules.txt:3"},
				{"student", monday(13), time.Time{}, -1, ""},
			}, 8000, 8000},
		{"a timeframe whose service never runs clashes with nothing, and is dropped",
			"n,a,b,,,p8,\nn,a,b,never,,p9,\n",
			[]price{{"", monday(10), time.Time{}, 8000, "fare_leg_rules.txt:2"}},
			8000, 8000},
		{"a timeframe whose service never runs, first",
			"n,a,b,never,,p9,\nn,a,b,,,p8,\n",
			[]price{{"", monday(10), time.Time{}, 8000, "fare_leg_rules.txt:3"}},
			8000, 8000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := LoadGTFS(feed(tc.rules))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.prices {
				q, err := tab.PriceFor(Query{From: "a", To: "b", Category: p.cat, At: p.at, ExitAt: p.exit})
				if p.want < 0 {
					if !errors.Is(err, ErrNoFareRule) {
						t.Errorf("%s at %s: %+v, %v; want ErrNoFareRule", p.cat, p.at, q, err)
					}
					continue
				}
				if err != nil || !q.Amount.Equal(vnd(p.want)) || q.RuleID != p.rule {
					t.Errorf("%s at %s-%s: %+v, %v; want %d by %s", p.cat, p.at, p.exit, q, err, p.want, p.rule)
				}
			}
			if !tab.MinFare("n").Equal(vnd(tc.min)) || !tab.MaxFare("n").Equal(vnd(tc.max)) {
				t.Errorf("MinFare %s, MaxFare %s; want %d, %d", tab.MinFare("n"), tab.MaxFare("n"), tc.min, tc.max)
			}
		})
	}

	// Rules of one rank that could price one journey.
	for _, tc := range []struct {
		name  string
		rules string
		dates string
		want  string
	}{
		{"a timed rule beside an untimed one", "n,a,b,,,p8,\nn,a,b,peak,,p9,\n", "",
			`fare_leg_rules.txt:3: second fare for network "n" from "a" to "b" (rider category "adult"), first at line 2 and applying at the same times (entry: any time and "peak"; exit: any time and any time); make the timeframes disjoint or give one rule a higher rule_priority`},
		{"overlapping groups at one priority", "n,a,b,peak,,p9,1\nn,a,b,morning,,p8,1\n", "",
			`fare_leg_rules.txt:3: second fare for network "n" from "a" to "b" (rider category "adult"), first at line 2 and applying at the same times (entry: "peak" and "morning"; exit: any time and any time); make the timeframes disjoint or give one rule a higher rule_priority`},
		{"entry in one, exit in the other", "n,a,b,offpeak,,p8,\nn,a,b,,peak,p9,\n", "",
			`fare_leg_rules.txt:3: second fare for network "n" from "a" to "b" (rider category "adult"), first at line 2 and applying at the same times (entry: "offpeak" and any time; exit: any time and "peak"); make the timeframes disjoint or give one rule a higher rule_priority`},
		{"a working Saturday joins the week to the weekend", "n,a,b,peak,,p9,\nn,a,b,offpeak,,p8,\n", "weekdays,20260425,1\n",
			`fare_leg_rules.txt:3: second fare for network "n" from "a" to "b" (rider category "adult"), first at line 2 and applying at the same times (entry: "peak" and "offpeak"; exit: any time and any time); make the timeframes disjoint or give one rule a higher rule_priority`},
		{"untimed rules at one priority", "n,a,b,,,p8,2\nn,a,b,,,p9,2\n", "",
			`fare_leg_rules.txt:3: second fare for network "n" from "a" to "b" (rider category "adult"), first at line 2`},
		{"the same rule with another timeframe is no duplicate, but clashes", "n,a,b,peak,,p8,\nn,a,b,peak,peak,p8,\n", "",
			`fare_leg_rules.txt:3: second fare for network "n" from "a" to "b" (rider category "adult"), first at line 2 and applying at the same times (entry: "peak" and "peak"; exit: any time and "peak"); make the timeframes disjoint or give one rule a higher rule_priority`},
		{"duplicate with timeframes", "n,a,b,peak,offpeak,p8,\nn,a,b,peak,offpeak,p8,4\n", "",
			`fare_leg_rules.txt:3: duplicate rule, first at line 2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := feed(tc.rules)
			appendTo(fsys, "calendar_dates.txt", tc.dates)
			_, err := LoadGTFS(fsys)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// timeframes.txt and the timeframe columns of fare_leg_rules.txt, each one
// edit to the test feed.
func TestLoadTimeframeErrors(t *testing.T) {
	const tfHeader = "timeframe_group_id,start_time,end_time,service_id\n"
	for _, tc := range []struct {
		name string
		edit func(fstest.MapFS)
		want string
	}{
		{"missing column", func(f fstest.MapFS) {
			set(f, "timeframes.txt", "timeframe_group_id,start_time,end_time\noffpeak,09:00:00,16:00:00\n")
		},
			"timeframes.txt:1: service_id: missing required column"},
		{"empty file", func(f fstest.MapFS) { set(f, "timeframes.txt", "") },
			"timeframes.txt:1: empty file, expected a header line"},
		{"empty group", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "offpeak,09:00:00", ",09:00:00") },
			"timeframes.txt:2: timeframe_group_id: missing value"},
		{"empty service", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "16:00:00,weekdays", "16:00:00,") },
			"timeframes.txt:2: service_id: missing value"},
		{"unknown service", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "24:00:00,weekdays", "24:00:00,weekends") },
			`timeframes.txt:3: service_id "weekends": unknown service (in neither calendar.txt nor calendar_dates.txt)`},
		{"past 24:00:00", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "24:00:00", "25:00:00") },
			`timeframes.txt:3: end_time "25:00:00": must be at most 24:00:00 (timeframes.txt has no times past midnight)`},
		{"a second past 24:00:00", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "24:00:00", "24:00:01") },
			`timeframes.txt:3: end_time "24:00:01": must be at most 24:00:00 (timeframes.txt has no times past midnight)`},
		{"no seconds", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "09:00:00", "09:00") },
			`timeframes.txt:2: start_time "09:00": must be a time as HH:MM:SS`},
		{"am/pm", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "09:00:00", "9am") },
			`timeframes.txt:2: start_time "9am": must be a time as HH:MM:SS`},
		{"three-digit hour", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "09:00:00", "009:00:00") },
			`timeframes.txt:2: start_time "009:00:00": must be a time as HH:MM:SS`},
		{"one-digit minute", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "09:00:00", "9:0:00") },
			`timeframes.txt:2: start_time "9:0:00": must be a time as HH:MM:SS`},
		{"negative", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "09:00:00", "-9:00:00") },
			`timeframes.txt:2: start_time "-9:00:00": must be a time as HH:MM:SS`},
		{"minute 60", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "16:00:00", "15:60:00") },
			`timeframes.txt:2: end_time "15:60:00": must be a time as HH:MM:SS (minutes and seconds 00 to 59)`},
		{"second 60", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "16:00:00", "15:59:60") },
			`timeframes.txt:2: end_time "15:59:60": must be a time as HH:MM:SS (minutes and seconds 00 to 59)`},
		{"start without end", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "09:00:00,16:00:00", "09:00:00,") },
			"timeframes.txt:2: end_time: missing value (start_time is set; leave both empty for the whole day)"},
		{"end without start", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "09:00:00,16:00:00", ",16:00:00") },
			"timeframes.txt:2: start_time: missing value (end_time is set; leave both empty for the whole day)"},
		{"across midnight", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "20:00:00,24:00:00", "20:00:00,02:00:00") },
			`timeframes.txt:3: end_time "02:00:00": must be after start_time "20:00:00" (a timeframe does not run past midnight: split it at 24:00:00)`},
		{"empty interval", func(f fstest.MapFS) { replaceIn(f, "timeframes.txt", "20:00:00,24:00:00", "20:00:00,20:00:00") },
			`timeframes.txt:3: end_time "20:00:00": must be after start_time "20:00:00" (a timeframe does not run past midnight: split it at 24:00:00)`},
		{"overlap in a group and service", func(f fstest.MapFS) { appendTo(f, "timeframes.txt", "offpeak,15:00:00,17:00:00,weekdays\n") },
			`timeframes.txt:5: 15:00:00-17:00:00 overlaps 09:00:00-16:00:00 at line 2 for timeframe_group_id "offpeak" and service_id "weekdays"`},
		{"whole day overlaps", func(f fstest.MapFS) { appendTo(f, "timeframes.txt", "offpeak,,,weekdays\n") },
			`timeframes.txt:5: 00:00:00-24:00:00 overlaps 09:00:00-16:00:00 at line 2 for timeframe_group_id "offpeak" and service_id "weekdays"`},
		{"duplicate", func(f fstest.MapFS) { appendTo(f, "timeframes.txt", "opening,00:00:00,24:00:00,opening\n") },
			"timeframes.txt:5: duplicate timeframe, first at line 4"},
		{"every problem of the file", func(f fstest.MapFS) {
			set(f, "timeframes.txt", tfHeader+"offpeak,09:00:00,16:00:00,weekdays\noffpeak,8:00:00,25:00:00,holidays\nopening,,,opening\n")
		}, "timeframes.txt:3: end_time \"25:00:00\": must be at most 24:00:00 (timeframes.txt has no times past midnight)\n" +
			"timeframes.txt:3: service_id \"holidays\": unknown service (in neither calendar.txt nor calendar_dates.txt)"},

		// fare_leg_rules.txt
		{"unknown from group", func(f fstest.MapFS) {
			replaceIn(f, "fare_leg_rules.txt", "tf-a,tf-b,offpeak,offpeak", "tf-a,tf-b,off-peak,offpeak")
		},
			`fare_leg_rules.txt:8: from_timeframe_group_id "off-peak": unknown timeframe group (not in timeframes.txt)`},
		{"unknown to group", func(f fstest.MapFS) {
			replaceIn(f, "fare_leg_rules.txt", "tf-c,tf-b,offpeak,offpeak", "tf-c,tf-b,offpeak,peak")
		},
			`fare_leg_rules.txt:13: to_timeframe_group_id "peak": unknown timeframe group (not in timeframes.txt)`},
		{"group names are case-sensitive", func(f fstest.MapFS) { replaceIn(f, "fare_leg_rules.txt", "tf-a,tf-b,opening,", "tf-a,tf-b,Opening,") },
			`fare_leg_rules.txt:14: from_timeframe_group_id "Opening": unknown timeframe group (not in timeframes.txt)`},
		{"a pass by timeframe", func(f fstest.MapFS) { replaceIn(f, "fare_leg_rules.txt", ",tf,,,,,tf-day,", ",tf,,,offpeak,,tf-day,") },
			`fare_leg_rules.txt:20: from_timeframe_group_id "offpeak": a pass covers its network at any time; leave from_timeframe_group_id and to_timeframe_group_id empty`},
		{"rule priority", func(f fstest.MapFS) { replaceIn(f, "fare_leg_rules.txt", "tf-opening,2\n", "tf-opening,two\n") },
			`fare_leg_rules.txt:14: rule_priority "two": must be a whole number from 0 to 2147483647`},
		{"rule priority fraction", func(f fstest.MapFS) { replaceIn(f, "fare_leg_rules.txt", "tf-opening,2\n", "tf-opening,1.5\n") },
			`fare_leg_rules.txt:14: rule_priority "1.5": must be a whole number from 0 to 2147483647`},
		{"rule priority too large", func(f fstest.MapFS) { replaceIn(f, "fare_leg_rules.txt", "tf-opening,2\n", "tf-opening,2147483648\n") },
			`fare_leg_rules.txt:14: rule_priority "2147483648": must be a whole number from 0 to 2147483647`},
		{"off-peak without its priority", func(f fstest.MapFS) { replaceIn(f, "fare_leg_rules.txt", "tf-offpeak-8000,1\n", "tf-offpeak-8000,\n") },
			`fare_leg_rules.txt:8: second fare for network "tf" from "tf-a" to "tf-b" (rider category "adult"), first at line 2 and applying at the same times (entry: any time and "offpeak"; exit: any time and "offpeak"); make the timeframes disjoint or give one rule a higher rule_priority`},
	} {
		t.Run(tc.name, func(t *testing.T) { checkTimeframeLoadError(t, tc.edit, tc.want) })
	}
}

func TestParseTimeOfDay(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   int64
		reason string
	}{
		{"00:00:00", 0, ""},
		{"0:00:00", 0, ""},
		{"9:05:07", 9*3600 + 5*60 + 7, ""},
		{"09:05:07", 9*3600 + 5*60 + 7, ""},
		{"23:59:59", secondsPerDay - 1, ""},
		{"24:00:00", secondsPerDay, ""},
		{"24:00:01", 0, "must be at most 24:00:00 (timeframes.txt has no times past midnight)"},
		{"99:59:59", 0, "must be at most 24:00:00 (timeframes.txt has no times past midnight)"},
		{"12:60:00", 0, "must be a time as HH:MM:SS (minutes and seconds 00 to 59)"},
		{"", 0, "must be a time as HH:MM:SS"},
		{"12:00:00:00", 0, "must be a time as HH:MM:SS"},
		{"12:00:0", 0, "must be a time as HH:MM:SS"},
		{"12:+0:00", 0, "must be a time as HH:MM:SS"},
		{" 12:00:00", 0, "must be a time as HH:MM:SS"}, // values are trimmed before
		{"１２:00:00", 0, "must be a time as HH:MM:SS"},
	} {
		got, reason := parseTimeOfDay(tc.in)
		if got != tc.want || reason != tc.reason {
			t.Errorf("parseTimeOfDay(%q) = %d, %q; want %d, %q", tc.in, got, reason, tc.want, tc.reason)
		}
	}
}

func TestToLocal(t *testing.T) {
	for _, tc := range []struct {
		at       time.Time
		day, sec int64
	}{
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 0, 7 * 3600},
		{time.Date(1969, 12, 31, 16, 59, 59, 0, time.UTC), -1, secondsPerDay - 1},
		{time.Date(1969, 12, 31, 17, 0, 0, 0, time.UTC), 0, 0},
		{time.Date(1969, 12, 31, 16, 59, 59, 999999999, time.UTC), -1, secondsPerDay - 1},
		{ict(2026, 2, 2, 9, 0, 0), day(2026, 2, 2), 9 * 3600},
		{ict(2026, 2, 2, 0, 0, 0).In(time.FixedZone("X", -11*3600)), day(2026, 2, 2), 0},
		{time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), day(1, 1, 1), 7*3600 + 1},
	} {
		got := toLocal(tc.at)
		if !got.known || got.day != tc.day || got.sec != tc.sec {
			t.Errorf("toLocal(%s) = %+v, want day %d sec %d", tc.at, got, tc.day, tc.sec)
		}
	}
	if toLocal(time.Time{}).known {
		t.Error("the zero time is a known time")
	}
}

// The hot path stays free of allocations with timeframes too.
func TestPriceForTimeframesDoesNotAllocate(t *testing.T) {
	tab := timeframeFeed(t)
	for _, q := range []Query{
		{From: "tf-a", To: "tf-c", At: ict(2026, 2, 2, 10, 0, 0), ExitAt: ict(2026, 2, 2, 10, 20, 0)},
		{From: "tf-a", To: "tf-c", At: ict(2026, 2, 2, 8, 0, 0)},
		{From: "tf-a", To: "tf-c", Category: "student", At: ict(2026, 4, 30, 10, 0, 0)},
		{From: "tf-b", To: "tf-b", At: ict(2026, 2, 2, 10, 0, 0)},
		{From: "tf-a", To: "tf-b", At: ict(2026, 6, 1, 10, 0, 0)},
	} {
		if n := testing.AllocsPerRun(100, func() { _, _ = tab.PriceFor(q) }); n != 0 {
			t.Errorf("PriceFor(%+v) allocates %v times", q, n)
		}
	}
}

// BenchmarkPriceForTimeframes prices an off-peak journey: the opening rule
// (priority 2) is tried and misses, the off-peak rule applies.
func BenchmarkPriceForTimeframes(b *testing.B) {
	tab := timeframeFeed(b)
	q := Query{From: "tf-a", To: "tf-c", At: ict(2026, 2, 2, 10, 0, 0), ExitAt: ict(2026, 2, 2, 10, 20, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tab.PriceFor(q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPriceForTimeframesPeak: every timed rule misses, the untimed one
// applies (a weekday at peak: two services checked, two timeframes each).
func BenchmarkPriceForTimeframesPeak(b *testing.B) {
	tab := timeframeFeed(b)
	q := Query{From: "tf-a", To: "tf-c", At: ict(2026, 4, 30, 17, 0, 0), ExitAt: ict(2026, 4, 30, 17, 20, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tab.PriceFor(q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPriceForTimeframesSameStation: the cheapest fare applying at the
// time, over every pair of the network.
func BenchmarkPriceForTimeframesSameStation(b *testing.B) {
	tab := timeframeFeed(b)
	q := Query{From: "tf-b", To: "tf-b", At: ict(2026, 2, 2, 10, 0, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tab.PriceFor(q); err != nil {
			b.Fatal(err)
		}
	}
}

// Random timeframes.txt and calendar_dates.txt beside the test feed's other
// files: LoadGTFS never panics, every error points into those files or into
// the rules that name their groups, and a table that loads prices every
// journey at every boundary without panicking, within its MinFareFor and
// MaxFareFor.
func FuzzLoadTimeframes(f *testing.F) {
	fsys := timeframeFS(f)
	f.Add(string(fsys["timeframes.txt"].Data), string(fsys["calendar_dates.txt"].Data))
	for _, seed := range [][2]string{
		{"timeframe_group_id,start_time,end_time,service_id\noffpeak,,,weekdays\nopening,,,opening\n", ""},
		{"timeframe_group_id,start_time,end_time,service_id\noffpeak,0:00:00,24:00:00,weekdays\nopening,23:59:59,24:00:00,opening\n", "service_id,date,exception_type\nweekdays,19700101,1\n"},
		{"timeframe_group_id,service_id\r\noffpeak,weekdays\r\nopening,weekdays\r\n", "service_id,date,exception_type\r\nopening,20260202,1\r\n"},
		{"timeframe_group_id,start_time,end_time,service_id\noffpeak,09:00:00,16:00:00,weekdays\noffpeak,16:00:00,24:00:00,weekdays\nopening,,,x\n", "service_id,date,exception_type\nx,20260202,2\n"},
		{"timeframe_group_id,start_time,end_time,service_id\noffpeak,25:00:00,09:00:00,weekdays\n", "service_id,date,exception_type\nweekdays,2026-02-02,3\n"},
		{"\xef\xbb\xbftimeframe_group_id,start_time,end_time,service_id\n\"offpeak\",\"9:00:00\",\"16:00:00\",\"weekdays\"\n", "\""},
		{"", ""},
		{"\xff", "\xff"},
	} {
		f.Add(seed[0], seed[1])
	}
	times := []time.Time{
		{},
		ict(2026, 2, 2, 8, 59, 59), ict(2026, 2, 2, 9, 0, 0), ict(2026, 2, 2, 15, 59, 59), ict(2026, 2, 2, 16, 0, 0),
		ict(2026, 2, 1, 12, 0, 0), ict(2026, 4, 30, 10, 0, 0), ict(2026, 6, 1, 0, 0, 0), ict(2026, 2, 5, 23, 59, 59),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	f.Fuzz(func(t *testing.T, timeframes, dates string) {
		fsys := timeframeFS(t)
		set(fsys, "timeframes.txt", timeframes)
		set(fsys, "calendar_dates.txt", dates)
		tab, err := LoadGTFS(fsys)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "timeframes.txt:") && !strings.HasPrefix(line, "calendar_dates.txt:") && !strings.HasPrefix(line, "fare_leg_rules.txt:") {
					t.Fatalf("error line %q points elsewhere", line)
				}
			}
			if !errors.Is(err, ErrInvalidData) {
				t.Fatalf("error %v does not wrap ErrInvalidData", err)
			}
			return
		}
		for _, cat := range []string{"", "student"} {
			lo, hi := tab.MinFareFor("tf", cat), tab.MaxFareFor("tf", cat)
			for _, a := range tab.Stops() {
				for _, b := range tab.Stops() {
					for i, in := range times {
						out := times[(i+1)%len(times)]
						q, err := tab.PriceFor(Query{From: a.ID, To: b.ID, Category: cat, At: in, ExitAt: out})
						if err != nil {
							continue
						}
						if q.RuleID == "" || q.Amount.LessThan(lo) || q.Amount.GreaterThan(hi) {
							t.Fatalf("PriceFor(%s, %s, %q, %s, %s) = %+v outside [%s, %s]", a.ID, b.ID, cat, in, out, q, lo, hi)
						}
					}
				}
			}
		}
	})
}
