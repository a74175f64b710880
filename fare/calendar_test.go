package fare

import (
	"testing"
	"time"
)

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func TestZoneIsUTCPlus7(t *testing.T) {
	// 23:59 and 00:00 in Hanoi are 16:59 and 17:00 UTC, all year.
	for _, at := range []time.Time{utc(2026, 1, 15, 17, 0), utc(2026, 7, 15, 17, 0)} {
		if l := at.In(Zone); l.Hour() != 0 || l.Minute() != 0 || l.Day() != 16 {
			t.Errorf("%s is %s local, want 00:00 on the 16th", at, l)
		}
	}
}

func TestDay(t *testing.T) {
	for _, tc := range []struct {
		at         time.Time
		start, end time.Time
	}{
		// 23:59 local on 2 Feb, then 00:00 local on 3 Feb.
		{utc(2026, 2, 2, 16, 59), utc(2026, 2, 1, 17, 0), utc(2026, 2, 2, 17, 0)},
		{utc(2026, 2, 2, 17, 0), utc(2026, 2, 2, 17, 0), utc(2026, 2, 3, 17, 0)},
		// 06:00 local is 23:00 UTC the day before.
		{utc(2026, 2, 2, 23, 0), utc(2026, 2, 2, 17, 0), utc(2026, 2, 3, 17, 0)},
		// Month and year ends.
		{utc(2026, 1, 31, 16, 59), utc(2026, 1, 30, 17, 0), utc(2026, 1, 31, 17, 0)},
		{utc(2026, 12, 31, 17, 0), utc(2026, 12, 31, 17, 0), utc(2027, 1, 1, 17, 0)},
		{utc(2028, 2, 28, 17, 30), utc(2028, 2, 28, 17, 0), utc(2028, 2, 29, 17, 0)}, // 29 Feb 2028, local
	} {
		start, end := Day(tc.at)
		if !start.Equal(tc.start) || !end.Equal(tc.end) {
			t.Errorf("Day(%s) = [%s, %s), want [%s, %s)", tc.at, start.UTC(), end.UTC(), tc.start, tc.end)
		}
	}
}

func TestMonth(t *testing.T) {
	for _, tc := range []struct {
		at         time.Time
		start, end time.Time
	}{
		// 31 Jan 23:59 local is January; 1 Feb 00:00 local is February.
		{utc(2026, 1, 31, 16, 59), utc(2025, 12, 31, 17, 0), utc(2026, 1, 31, 17, 0)},
		{utc(2026, 1, 31, 17, 0), utc(2026, 1, 31, 17, 0), utc(2026, 2, 28, 17, 0)},
		// February 2026 has 28 days; 1 Mar 00:00 local is 28 Feb 17:00 UTC.
		{utc(2026, 2, 28, 16, 59), utc(2026, 1, 31, 17, 0), utc(2026, 2, 28, 17, 0)},
		{utc(2026, 2, 28, 17, 0), utc(2026, 2, 28, 17, 0), utc(2026, 3, 31, 17, 0)},
		// February 2028 has 29.
		{utc(2028, 2, 29, 16, 59), utc(2028, 1, 31, 17, 0), utc(2028, 2, 29, 17, 0)},
		{utc(2028, 2, 29, 17, 0), utc(2028, 2, 29, 17, 0), utc(2028, 3, 31, 17, 0)},
		// The new year.
		{utc(2026, 12, 31, 17, 0), utc(2026, 12, 31, 17, 0), utc(2027, 1, 31, 17, 0)},
	} {
		start, end := Month(tc.at)
		if !start.Equal(tc.start) || !end.Equal(tc.end) {
			t.Errorf("Month(%s) = [%s, %s), want [%s, %s)", tc.at, start.UTC(), end.UTC(), tc.start, tc.end)
		}
	}
}
