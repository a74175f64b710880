package fare

import "time"

// Zone is local time in Hanoi and Ho Chi Minh City (Asia/Ho_Chi_Minh): UTC+7
// all year, no daylight saving time since 1975. A fixed zone, so that day
// and month boundaries do not depend on a tz database being installed.
var Zone = time.FixedZone("ICT", zoneOffset)

// zoneOffset is Zone's offset from UTC in seconds; timeframes use it to cut
// a tap time into a local day and time of day without a time.Location.
const zoneOffset = 7 * 60 * 60

// Day returns the local calendar day containing at, [start, end): the day a
// day pass is valid for and a daily cap adds up over. 23:59 and 00:00 local
// time (16:59 and 17:00 UTC) are on different days.
func Day(at time.Time) (start, end time.Time) {
	y, m, d := at.In(Zone).Date()
	start = time.Date(y, m, d, 0, 0, 0, 0, Zone)
	return start, start.AddDate(0, 0, 1)
}

// Month returns the local calendar month containing at, [start, end): the
// month a month pass is valid for and a monthly cap adds up over.
func Month(at time.Time) (start, end time.Time) {
	y, m, _ := at.In(Zone).Date()
	start = time.Date(y, m, 1, 0, 0, 0, 0, Zone)
	return start, start.AddDate(0, 1, 0)
}
