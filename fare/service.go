package fare

import (
	"fmt"
	"time"
)

// The GTFS files that say on which days something runs: a timeframe of
// timeframes.txt applies on the days of its service_id.
const (
	fileCalendar      = "calendar.txt"
	fileCalendarDates = "calendar_dates.txt"
)

const secondsPerDay = 24 * 60 * 60

// service is a GTFS service_id: a set of local calendar days, the weekly
// pattern of its calendar.txt row from start to end, with the days
// calendar_dates.txt adds or removes.
type service struct {
	id         string
	weekly     bool  // defined in calendar.txt
	weekdays   uint8 // bit time.Weekday set: runs on that day of the week
	start, end int64 // days since 1970-01-01, both included
	// except: day -> true when calendar_dates.txt adds it, false when it
	// removes it. An exception wins over the weekly pattern.
	except map[int64]bool
}

// runs reports whether the service runs on a day (days since 1970-01-01).
func (s *service) runs(day int64) bool {
	if added, ok := s.except[day]; ok {
		return added
	}
	return s.weekly && day >= s.start && day <= s.end && s.weekdays&(1<<weekday(day)) != 0
}

// weekday of a day counted from 1970-01-01, a Thursday.
func weekday(day int64) time.Weekday {
	w := (day + int64(time.Thursday)) % 7
	if w < 0 {
		w += 7
	}
	return time.Weekday(w)
}

// sharesDay reports whether two services run on a common day. Exact, and
// quick however long their date ranges: a day of both weekly patterns that
// neither removes is common, and each removed day is checked at most once.
func sharesDay(a, b *service) bool {
	for d, added := range a.except {
		if added && b.runs(d) {
			return true
		}
	}
	for d, added := range b.except {
		if added && a.runs(d) {
			return true
		}
	}
	if !a.weekly || !b.weekly || a.weekdays&b.weekdays == 0 {
		return false
	}
	return commonWeeklyDay(a, b)
}

// everRuns reports whether the service runs on any day at all.
func (s *service) everRuns() bool {
	for _, added := range s.except {
		if added {
			return true
		}
	}
	return s.weekly && s.weekdays != 0 && commonWeeklyDay(s, s)
}

// commonWeeklyDay looks for a day in both weekly patterns that both run.
// Every day of both patterns that fails is one some exception removes, so
// after len(a.except)+len(b.except)+1 such days one must have succeeded.
func commonWeeklyDay(a, b *service) bool {
	lo, hi := max(a.start, b.start), min(a.end, b.end)
	mask := a.weekdays & b.weekdays
	budget := len(a.except) + len(b.except) + 1
	for d := lo; d <= hi && budget > 0; d++ {
		if mask&(1<<weekday(d)) == 0 {
			continue
		}
		if a.runs(d) && b.runs(d) {
			return true
		}
		budget--
	}
	return false
}

// weekdayColumns are the day columns of calendar.txt, in file order.
var weekdayColumns = []struct {
	name string
	day  time.Weekday
}{
	{"monday", time.Monday}, {"tuesday", time.Tuesday}, {"wednesday", time.Wednesday},
	{"thursday", time.Thursday}, {"friday", time.Friday}, {"saturday", time.Saturday},
	{"sunday", time.Sunday},
}

// readCalendar reads calendar.txt, optional: the weekly pattern of services.
func (l *loader) readCalendar() {
	cols := []string{"service_id"}
	for _, w := range weekdayColumns {
		cols = append(cols, w.name)
	}
	cols = append(cols, "start_date", "end_date")
	f := readFeedFile(l.fsys, fileCalendar, false, cols, &l.errs)
	if f == nil {
		return
	}
	seen := make(map[string]int)
	for _, r := range f.rows {
		id, ok := l.need(r, "service_id")
		s := &service{id: id, weekly: true}
		for _, w := range weekdayColumns {
			switch v := r.get(w.name); v {
			case "1":
				s.weekdays |= 1 << w.day
			case "0":
			case "":
				l.fail(r, w.name, "", "missing value")
				ok = false
			default:
				l.fail(r, w.name, v, "must be 0 or 1")
				ok = false
			}
		}
		start, okStart := l.date(r, "start_date")
		end, okEnd := l.date(r, "end_date")
		if okStart && okEnd && end < start {
			l.fail(r, "end_date", r.get("end_date"), fmt.Sprintf("before start_date %q", r.get("start_date")))
			okEnd = false
		}
		if !ok || !okStart || !okEnd || !l.define(seen, r, "service_id", id) {
			continue
		}
		s.start, s.end = start, end
		l.services[id] = s
	}
}

// readCalendarDates reads calendar_dates.txt, optional: days added to or
// removed from a service, or every day of a service calendar.txt lacks.
func (l *loader) readCalendarDates() {
	f := readFeedFile(l.fsys, fileCalendarDates, false, []string{"service_id", "date", "exception_type"}, &l.errs)
	if f == nil {
		return
	}
	type key struct {
		service string
		day     int64
	}
	seen := make(map[key]int)
	for _, r := range f.rows {
		id, ok := l.need(r, "service_id")
		day, okDay := l.date(r, "date")
		kind, okKind := l.need(r, "exception_type")
		if okKind && kind != "1" && kind != "2" {
			l.fail(r, "exception_type", kind, "must be 1 (service added) or 2 (service removed)")
			okKind = false
		}
		if !ok || !okDay || !okKind {
			continue
		}
		k := key{id, day}
		if first, dup := seen[k]; dup {
			l.fail(r, "date", r.get("date"), fmt.Sprintf("duplicate for service_id %q, first at line %d", id, first))
			continue
		}
		seen[k] = r.line
		s := l.services[id]
		if s == nil {
			s = &service{id: id}
			l.services[id] = s
		}
		if s.except == nil {
			s.except = make(map[int64]bool)
		}
		s.except[day] = kind == "1"
	}
}

// date reads a required GTFS date field.
func (l *loader) date(r row, field string) (int64, bool) {
	v, ok := l.need(r, field)
	if !ok {
		return 0, false
	}
	day, reason := parseDate(v)
	if reason != "" {
		l.fail(r, field, v, reason)
		return 0, false
	}
	return day, true
}

// parseDate reads a GTFS date, YYYYMMDD, as days since 1970-01-01. It
// returns a reason when the text is not one.
func parseDate(s string) (int64, string) {
	if len(s) != 8 || !allDigits(s) {
		return 0, "must be a date as YYYYMMDD"
	}
	t, err := time.Parse("20060102", s)
	if err != nil {
		return 0, "no such date"
	}
	// Midnight UTC: a whole number of days, negative before 1970.
	return t.Unix() / secondsPerDay, ""
}
