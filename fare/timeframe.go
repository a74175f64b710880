package fare

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const fileTimeframes = "timeframes.txt"

// timeframeGroup is a timeframe_group_id of timeframes.txt: a fare leg rule
// naming it applies when the tap falls in one of its timeframes.
type timeframeGroup struct {
	id     string
	frames []timeframe
}

// timeframe is one row of timeframes.txt: from start (included) to end
// (excluded), in seconds after local midnight, on the days svc runs.
type timeframe struct {
	start, end int64
	svc        *service
	line       int
}

// contains reports whether a tap at lt falls in the group. A nil group is
// a rule's empty timeframe: any time, even an unknown one.
func (g *timeframeGroup) contains(lt localTime) bool {
	if g == nil {
		return true
	}
	if !lt.known {
		return false
	}
	for i := range g.frames {
		f := &g.frames[i]
		if lt.sec >= f.start && lt.sec < f.end && f.svc.runs(lt.day) {
			return true
		}
	}
	return false
}

// name is how an error message names the group.
func (g *timeframeGroup) name() string {
	if g == nil {
		return "any time"
	}
	return strconv.Quote(g.id)
}

// groupsOverlap reports whether one moment can fall in both groups; nil is
// any time.
func groupsOverlap(a, b *timeframeGroup) bool {
	switch {
	case a == nil && b == nil:
		return true
	case a == nil:
		return b.everActive()
	case b == nil:
		return a.everActive()
	}
	for _, fa := range a.frames {
		for _, fb := range b.frames {
			if fa.start < fb.end && fb.start < fa.end && sharesDay(fa.svc, fb.svc) {
				return true
			}
		}
	}
	return false
}

// everActive reports whether any moment falls in the group.
func (g *timeframeGroup) everActive() bool {
	for _, f := range g.frames {
		if f.svc.everRuns() {
			return true
		}
	}
	return false
}

// localTime is a tap in local time (Zone): the local calendar day, counted
// from 1970-01-01, and the seconds since its midnight. GTFS measures
// timeframes from "noon minus 12h" of the local day, which is midnight in a
// zone without daylight saving time.
type localTime struct {
	day, sec int64
	known    bool // false for the zero time.Time: no tap time given
}

// toLocal converts a tap time. Sub-second parts are dropped: a timeframe
// bound is a whole second, and 08:59:59.9 is still before 09:00:00.
func toLocal(at time.Time) localTime {
	if at.IsZero() {
		return localTime{}
	}
	s := at.Unix() + zoneOffset
	day := s / secondsPerDay
	if s%secondsPerDay < 0 {
		day--
	}
	return localTime{day: day, sec: s - day*secondsPerDay, known: true}
}

// readTimeframes reads timeframes.txt, optional: the times of day, on the
// days of a service, that a fare leg rule's timeframe group covers.
func (l *loader) readTimeframes() {
	f := readFeedFile(l.fsys, fileTimeframes, false, []string{"timeframe_group_id", "service_id"}, &l.errs)
	if f == nil {
		return
	}
	type key struct{ group, service string }
	byKey := make(map[key][]timeframe)
	for _, r := range f.rows {
		id, ok := l.need(r, "timeframe_group_id")
		start, end, okTimes := l.timeRange(r)
		svcID, okSvc := l.need(r, "service_id")
		svc := l.services[svcID]
		if okSvc {
			okSvc = l.ref(r, "service_id", svcID, "service (in neither "+fileCalendar+" nor "+fileCalendarDates+")", svc != nil)
		}
		if !ok || !okTimes || !okSvc {
			continue
		}
		// GTFS: no overlapping intervals for one timeframe_group_id and service_id.
		k := key{id, svcID}
		clash := false
		for _, prev := range byKey[k] {
			if start == prev.start && end == prev.end {
				l.fail(r, "", "", fmt.Sprintf("duplicate timeframe, first at line %d", prev.line))
				clash = true
				break
			}
			if start < prev.end && prev.start < end {
				l.fail(r, "", "", fmt.Sprintf("%s-%s overlaps %s-%s at line %d for timeframe_group_id %q and service_id %q",
					clock(start), clock(end), clock(prev.start), clock(prev.end), prev.line, id, svcID))
				clash = true
				break
			}
		}
		if clash {
			continue
		}
		tf := timeframe{start: start, end: end, svc: svc, line: r.line}
		byKey[k] = append(byKey[k], tf)
		g := l.groups[id]
		if g == nil {
			g = &timeframeGroup{id: id}
			l.groups[id] = g
		}
		g.frames = append(g.frames, tf)
	}
}

// timeRange reads start_time and end_time: both or neither (the whole day).
func (l *loader) timeRange(r row) (start, end int64, ok bool) {
	s, e := r.get("start_time"), r.get("end_time")
	switch {
	case s == "" && e == "":
		return 0, secondsPerDay, true
	case s == "":
		l.fail(r, "start_time", "", "missing value (end_time is set; leave both empty for the whole day)")
		return 0, 0, false
	case e == "":
		l.fail(r, "end_time", "", "missing value (start_time is set; leave both empty for the whole day)")
		return 0, 0, false
	}
	start, okStart := l.timeOfDay(r, "start_time")
	end, okEnd := l.timeOfDay(r, "end_time")
	if !okStart || !okEnd {
		return 0, 0, false
	}
	if end <= start {
		l.fail(r, "end_time", e, fmt.Sprintf("must be after start_time %q (a timeframe does not run past midnight: split it at 24:00:00)", s))
		return 0, 0, false
	}
	return start, end, true
}

func (l *loader) timeOfDay(r row, field string) (int64, bool) {
	v := r.get(field)
	sec, reason := parseTimeOfDay(v)
	if reason != "" {
		l.fail(r, field, v, reason)
		return 0, false
	}
	return sec, true
}

// parseTimeOfDay reads a GTFS time of timeframes.txt, HH:MM:SS or H:MM:SS
// and at most 24:00:00, as seconds after midnight. It returns a reason when
// the text is not one.
func parseTimeOfDay(v string) (int64, string) {
	h, rest, ok := strings.Cut(v, ":")
	m, s, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || len(h) < 1 || len(h) > 2 || len(m) != 2 || len(s) != 2 ||
		!allDigits(h) || !allDigits(m) || !allDigits(s) {
		return 0, "must be a time as HH:MM:SS"
	}
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	ss, _ := strconv.Atoi(s)
	if mm > 59 || ss > 59 {
		return 0, "must be a time as HH:MM:SS (minutes and seconds 00 to 59)"
	}
	sec := int64(hh*3600 + mm*60 + ss)
	if sec > secondsPerDay {
		return 0, "must be at most 24:00:00 (timeframes.txt has no times past midnight)"
	}
	return sec, ""
}

// clock formats seconds after midnight as HH:MM:SS.
func clock(sec int64) string {
	return fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60)
}
