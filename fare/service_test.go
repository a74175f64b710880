package fare

import (
	"testing"
	"testing/fstest"
	"time"
)

// day is a date as days since 1970-01-01, the way services count them.
func day(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay
}

func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   int64
		reason string
	}{
		{"19700101", 0, ""},
		{"19691231", -1, ""},
		{"20260202", day(2026, 2, 2), ""},
		{"20280229", day(2028, 2, 29), ""},
		{"20260229", 0, "no such date"},
		{"20261301", 0, "no such date"},
		{"20260100", 0, "no such date"},
		{"2026-01-01", 0, "must be a date as YYYYMMDD"},
		{"2026011", 0, "must be a date as YYYYMMDD"},
		{"+2026011", 0, "must be a date as YYYYMMDD"},
		{"", 0, "must be a date as YYYYMMDD"},
	} {
		got, reason := parseDate(tc.in)
		if got != tc.want || reason != tc.reason {
			t.Errorf("parseDate(%q) = %d, %q; want %d, %q", tc.in, got, reason, tc.want, tc.reason)
		}
	}
}

func TestWeekday(t *testing.T) {
	for d := int64(-800); d < 800; d++ {
		want := time.Unix(d*secondsPerDay, 0).UTC().Weekday()
		if got := weekday(d); got != want {
			t.Fatalf("weekday(%d) = %s, want %s", d, got, want)
		}
	}
}

func TestServiceRuns(t *testing.T) {
	weekdays := &service{id: "weekdays", weekly: true, weekdays: 0b0111110,
		start: day(2026, 1, 1), end: day(2026, 12, 31),
		except: map[int64]bool{day(2026, 4, 30): false, day(2026, 4, 25): true}}
	datesOnly := &service{id: "tet", except: map[int64]bool{day(2026, 2, 17): true, day(2026, 2, 18): false}}
	for _, tc := range []struct {
		s    *service
		day  int64
		want bool
	}{
		{weekdays, day(2026, 2, 2), true},    // Monday
		{weekdays, day(2026, 2, 1), false},   // Sunday
		{weekdays, day(2026, 2, 7), false},   // Saturday
		{weekdays, day(2026, 4, 30), false},  // Thursday, removed
		{weekdays, day(2026, 4, 25), true},   // Saturday, added
		{weekdays, day(2026, 1, 1), true},    // first day, Thursday
		{weekdays, day(2026, 12, 31), true},  // last day, Thursday
		{weekdays, day(2025, 12, 31), false}, // before
		{weekdays, day(2027, 1, 1), false},   // after
		{datesOnly, day(2026, 2, 17), true},
		{datesOnly, day(2026, 2, 18), false},
		{datesOnly, day(2026, 2, 19), false},
	} {
		if got := tc.s.runs(tc.day); got != tc.want {
			t.Errorf("%s runs on day %d = %v, want %v", tc.s.id, tc.day, got, tc.want)
		}
	}
}

// Whether two services share a day decides whether two rules clash, so it
// must be exact: neither a shared day missed nor one invented.
func TestSharesDay(t *testing.T) {
	const (
		mon = 1 << time.Monday
		sat = 1 << time.Saturday
		sun = 1 << time.Sunday
	)
	week := func(mask uint8, from, to int64, except map[int64]bool) *service {
		return &service{weekly: true, weekdays: mask, start: from, end: to, except: except}
	}
	y2026 := func(mask uint8) *service { return week(mask, day(2026, 1, 1), day(2026, 12, 31), nil) }
	// Every Monday of 2026 removed but one.
	mondays := map[int64]bool{}
	for d := day(2026, 1, 5); d <= day(2026, 12, 28); d += 7 {
		mondays[d] = false
	}
	delete(mondays, day(2026, 6, 15))
	allMondaysGone := map[int64]bool{}
	for d := day(2026, 1, 5); d <= day(2026, 12, 28); d += 7 {
		allMondaysGone[d] = false
	}
	for _, tc := range []struct {
		name string
		a, b *service
		want bool
	}{
		{"same pattern", y2026(mon), y2026(mon), true},
		{"weekend and weekday", y2026(sat | sun), y2026(mon), false},
		{"disjoint years", week(mon, day(2025, 1, 1), day(2025, 12, 31), nil), y2026(mon), false},
		{"one common week", week(mon, day(2025, 1, 1), day(2026, 1, 5), nil), y2026(mon), true},
		{"ranges meet on a day of neither pattern", week(mon|sat, day(2025, 1, 1), day(2026, 1, 1), nil), y2026(mon | sat), false},
		{"a Saturday added to weekdays", y2026(sat), week(mon, day(2026, 1, 1), day(2026, 12, 31), map[int64]bool{day(2026, 4, 25): true}), true},
		{"the added day removed from the other", week(sat, day(2026, 1, 1), day(2026, 12, 31), map[int64]bool{day(2026, 4, 25): false}),
			week(mon, day(2026, 1, 1), day(2026, 12, 31), map[int64]bool{day(2026, 4, 25): true}), false},
		{"all but one Monday removed", week(mon, day(2026, 1, 1), day(2026, 12, 31), mondays), y2026(mon), true},
		{"every Monday removed", week(mon, day(2026, 1, 1), day(2026, 12, 31), allMondaysGone), y2026(mon), false},
		{"dates only, in common", &service{except: map[int64]bool{day(2026, 2, 2): true}}, y2026(mon), true},
		{"dates only, none in common", &service{except: map[int64]bool{day(2026, 2, 3): true}}, y2026(mon), false},
		{"empty service", &service{}, y2026(mon), false},
		{"a long range", week(mon, day(1900, 1, 1), day(2999, 12, 31), nil), week(mon, day(2999, 12, 1), day(3100, 1, 1), nil), true},
	} {
		if got := sharesDay(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: sharesDay = %v, want %v", tc.name, got, tc.want)
		}
		if got := sharesDay(tc.b, tc.a); got != tc.want {
			t.Errorf("%s (swapped): sharesDay = %v, want %v", tc.name, got, tc.want)
		}
	}
	if (&service{}).everRuns() || week(0, 0, 1000, nil).everRuns() || week(mon, day(2026, 1, 1), day(2026, 12, 31), allMondaysGone).everRuns() {
		t.Error("a service without days runs")
	}
	if !y2026(sun).everRuns() || !(&service{except: map[int64]bool{5: true}}).everRuns() {
		t.Error("a service with days does not run")
	}
}

// calendar.txt and calendar_dates.txt errors, each one edit to the
// timeframes test feed.
func TestLoadCalendarErrors(t *testing.T) {
	const calHeader = "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
	for _, tc := range []struct {
		name string
		edit func(fstest.MapFS)
		want string
	}{
		{"missing column", func(f fstest.MapFS) {
			set(f, "calendar.txt", "service_id,monday,tuesday,wednesday,thursday,friday,saturday,start_date,end_date\nweekdays,1,1,1,1,1,0,20260101,20261231\n")
		}, "calendar.txt:1: sunday: missing required column"},
		{"day flag", func(f fstest.MapFS) { replaceIn(f, "calendar.txt", "weekdays,1,1", "weekdays,1,2") },
			`calendar.txt:2: tuesday "2": must be 0 or 1`},
		{"day flag word", func(f fstest.MapFS) { replaceIn(f, "calendar.txt", "opening,1,", "opening,yes,") },
			`calendar.txt:3: monday "yes": must be 0 or 1`},
		{"empty day flag", func(f fstest.MapFS) { replaceIn(f, "calendar.txt", "1,0,0,2026", "1,,0,2026") },
			`calendar.txt:2: saturday: missing value`},
		{"empty service", func(f fstest.MapFS) { replaceIn(f, "calendar.txt", "opening,", ",") },
			`calendar.txt:3: service_id: missing value`},
		{"date with dashes", func(f fstest.MapFS) { replaceIn(f, "calendar.txt", "20260101", "2026-01-01") },
			`calendar.txt:2: start_date "2026-01-01": must be a date as YYYYMMDD`},
		{"no such date", func(f fstest.MapFS) { replaceIn(f, "calendar.txt", "20261231", "20261232") },
			`calendar.txt:2: end_date "20261232": no such date`},
		{"29 February of a common year", func(f fstest.MapFS) { replaceIn(f, "calendar.txt", "20261231", "20270229") },
			`calendar.txt:2: end_date "20270229": no such date`},
		{"empty end date", func(f fstest.MapFS) { replaceIn(f, "calendar.txt", ",20261231", ",") },
			`calendar.txt:2: end_date: missing value`},
		{"end before start", func(f fstest.MapFS) { replaceIn(f, "calendar.txt", "20260601,20260614", "20260614,20260601") },
			`calendar.txt:3: end_date "20260601": before start_date "20260614"`},
		{"duplicate service", func(f fstest.MapFS) { appendTo(f, "calendar.txt", "weekdays,0,0,0,0,0,1,1,20260101,20261231\n") },
			`calendar.txt:4: service_id "weekdays": duplicate, first defined at line 2`},
		{"every problem of a row", func(f fstest.MapFS) { set(f, "calendar.txt", calHeader+"weekdays,1,1,1,1,x,0,0,2026,20261231\n") },
			"calendar.txt:2: friday \"x\": must be 0 or 1\ncalendar.txt:2: start_date \"2026\": must be a date as YYYYMMDD"},

		{"dates: missing column", func(f fstest.MapFS) { set(f, "calendar_dates.txt", "service_id,date\nweekdays,20260430\n") },
			"calendar_dates.txt:1: exception_type: missing required column"},
		{"dates: exception type", func(f fstest.MapFS) { replaceIn(f, "calendar_dates.txt", "20260430,2", "20260430,3") },
			`calendar_dates.txt:2: exception_type "3": must be 1 (service added) or 2 (service removed)`},
		{"dates: exception type zero", func(f fstest.MapFS) { replaceIn(f, "calendar_dates.txt", "20260430,2", "20260430,0") },
			`calendar_dates.txt:2: exception_type "0": must be 1 (service added) or 2 (service removed)`},
		{"dates: empty exception type", func(f fstest.MapFS) { replaceIn(f, "calendar_dates.txt", "20260430,2", "20260430,") },
			`calendar_dates.txt:2: exception_type: missing value`},
		{"dates: date", func(f fstest.MapFS) { replaceIn(f, "calendar_dates.txt", "20260501", "1/5/2026") },
			`calendar_dates.txt:3: date "1/5/2026": must be a date as YYYYMMDD`},
		{"dates: no such date", func(f fstest.MapFS) { replaceIn(f, "calendar_dates.txt", "20260501", "20260431") },
			`calendar_dates.txt:3: date "20260431": no such date`},
		{"dates: empty service", func(f fstest.MapFS) { replaceIn(f, "calendar_dates.txt", "weekdays,20260501", ",20260501") },
			`calendar_dates.txt:3: service_id: missing value`},
		{"dates: twice for one service", func(f fstest.MapFS) { appendTo(f, "calendar_dates.txt", "weekdays,20260430,1\n") },
			`calendar_dates.txt:5: date "20260430": duplicate for service_id "weekdays", first at line 2`},
	} {
		t.Run(tc.name, func(t *testing.T) { checkTimeframeLoadError(t, tc.edit, tc.want) })
	}
}

// The calendar files are optional: a feed with neither loads, as long as
// no timeframe needs them, and one day in calendar_dates.txt alone is a
// service.
func TestLoadCalendarOptional(t *testing.T) {
	fsys := timeframeFS(t)
	delete(fsys, "calendar.txt")
	set(fsys, "calendar_dates.txt", "service_id,date,exception_type\nweekdays,20260202,1\nopening,20260601,1\n")
	tab, err := LoadGTFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		want int64
	}{
		{ict(2026, 2, 2, 10, 0, 0), 11000}, // the one weekday left
		{ict(2026, 2, 3, 10, 0, 0), 14000},
		{ict(2026, 6, 1, 10, 0, 0), 0},
		{ict(2026, 6, 2, 10, 0, 0), 14000},
	} {
		q, err := tab.PriceFor(Query{From: "tf-a", To: "tf-c", At: tc.at})
		if err != nil || !q.Amount.Equal(vnd(tc.want)) {
			t.Errorf("at %s: %+v, %v; want %d", tc.at, q, err, tc.want)
		}
	}

	// Without timeframes, without calendars.
	fsys = baseFeed()
	if _, err := LoadGTFS(fsys); err != nil {
		t.Fatal(err)
	}
	// A timeframe needs its service.
	set(fsys, "timeframes.txt", "timeframe_group_id,start_time,end_time,service_id\npeak,07:00:00,09:00:00,weekdays\n")
	_, err = LoadGTFS(fsys)
	if want := `timeframes.txt:2: service_id "weekdays": unknown service (in neither calendar.txt nor calendar_dates.txt)`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}
