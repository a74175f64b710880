package ridershipch

import (
	"context"
	"fmt"
	"time"
)

// The aggregates are AggregatingMergeTree tables kept by materialized views
// over the raw tables. The raw tables may receive a batch twice (the
// exporter writes, crashes before marking the outbox, and writes it again),
// and a materialized view sees every insert: a count() or sum() view would
// count a retried batch twice. So the views keep the *set* of ids per
// bucket (uniqExactState) and, for money, the set of (id, amount) pairs
// (groupUniqArrayState): merging two states of the same batch is the same
// set, and the numbers read back are exact however often a batch arrived.
// Buckets are computed from epoch seconds (intDiv), not toStartOfInterval
// (missing in 18.16) nor the server's time zone; Vietnam is UTC+7, whole
// hours, so UTC 15-minute and hour buckets are local ones too.
//
// The same DDL runs on ClickHouse 18.16 and current versions; the tables and
// views are defined in schema.go.
// Filter limits an aggregate query to some stations, lines or lots: nil
// means all (an administrator), an empty list none.
type Filter []string

func (f Filter) clause(col string) (string, []any, bool) {
	if f == nil {
		return "", nil, true
	}
	if len(f) == 0 {
		return "", nil, false
	}
	return " AND has(?, " + col + ")", []any{[]string(f)}, true
}

// StationSlot is one station's entries and exits in a 15-minute slot.
type StationSlot struct {
	Site    string    `json:"site"`
	Slot    time.Time `json:"slot"`
	Entries uint64    `json:"entries"`
	Exits   uint64    `json:"exits"`
}

// StationActivity returns entries and exits per station per 15 minutes in
// [from, to), for the sites in f.
func (s *Sink) StationActivity(ctx context.Context, from, to time.Time, sites Filter) ([]StationSlot, error) {
	where, args, ok := sites.clause("site")
	if !ok {
		return nil, nil
	}
	rows, err := s.conn.Query(ctx, `SELECT site, slot, kind, uniqExactMerge(taps) FROM `+s.db+`.station_activity_15m
		WHERE slot >= ? AND slot < ?`+where+` GROUP BY site, slot, kind ORDER BY site, slot`,
		append([]any{from.UTC(), to.UTC()}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("ridershipch: station activity: %w", err)
	}
	defer rows.Close()
	var out []StationSlot
	for rows.Next() {
		var site, kind string
		var slot time.Time
		var n uint64
		if err := rows.Scan(&site, &slot, &kind, &n); err != nil {
			return nil, fmt.Errorf("ridershipch: station activity: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Site != site || !out[len(out)-1].Slot.Equal(slot) {
			out = append(out, StationSlot{Site: site, Slot: slot.UTC()})
		}
		if kind == "metro_entry" {
			out[len(out)-1].Entries += n
		} else {
			out[len(out)-1].Exits += n
		}
	}
	return out, rows.Err()
}

// JourneyCell is the journeys from one station to another on one line in
// one hour, with their fares.
type JourneyCell struct {
	OperatorID string    `json:"operator_id"`
	NetworkID  string    `json:"network_id"`
	Hour       time.Time `json:"hour"`
	EntrySite  string    `json:"entry_site"`
	ExitSite   string    `json:"exit_site"`
	Journeys   uint64    `json:"journeys"`
	FareVND    int64     `json:"fare_vnd"`
}

// Journeys returns journeys ended in [from, to) per line, hour, origin and
// destination, for the lines in f: the OD matrix and revenue both add
// these up. Each journey counts once, as last closed (LatestJourneys).
func (s *Sink) Journeys(ctx context.Context, from, to time.Time, networks Filter) ([]JourneyCell, error) {
	where, args, ok := networks.clause("network_id")
	if !ok {
		return nil, nil
	}
	rows, err := s.conn.Query(ctx, `SELECT operator_id, network_id, toDateTime(intDiv(toUInt32(exit_at), 3600) * 3600) AS hour,
			entry_site, exit_site, count(), toInt64(sum(fare))
		FROM `+LatestJourneys(s.db+".journeys", from, to)+` WHERE 1 = 1`+where+`
		GROUP BY operator_id, network_id, hour, entry_site, exit_site
		ORDER BY operator_id, network_id, hour, entry_site, exit_site`, args...)
	if err != nil {
		return nil, fmt.Errorf("ridershipch: journeys: %w", err)
	}
	defer rows.Close()
	var out []JourneyCell
	for rows.Next() {
		var c JourneyCell
		if err := rows.Scan(&c.OperatorID, &c.NetworkID, &c.Hour, &c.EntrySite, &c.ExitSite, &c.Journeys, &c.FareVND); err != nil {
			return nil, fmt.Errorf("ridershipch: journeys: %w", err)
		}
		c.Hour = c.Hour.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// ParkingHour is the vehicles in and out of a lot in an hour, and the fees
// of the sessions that ended in it.
type ParkingHour struct {
	OperatorID string    `json:"operator_id"`
	Lot        string    `json:"lot"`
	Hour       time.Time `json:"hour"`
	In         uint64    `json:"in"`
	Out        uint64    `json:"out"`
	FeeVND     int64     `json:"fee_vnd"`
}

// ParkingFlow returns vehicles in and out per lot per hour in [from, to),
// for the lots in f.
func (s *Sink) ParkingFlow(ctx context.Context, from, to time.Time, lots Filter) ([]ParkingHour, error) {
	where, args, ok := lots.clause("lot")
	if !ok {
		return nil, nil
	}
	rows, err := s.conn.Query(ctx, `SELECT operator_id, lot, hour, dir, uniqExactMerge(sessions),
			toInt64(arraySum(arrayMap(x -> toInt64(tupleElement(x, 2)), groupUniqArrayMerge(fees))))
		FROM `+s.db+`.parking_flow_1h WHERE hour >= ? AND hour < ?`+where+`
		GROUP BY operator_id, lot, hour, dir ORDER BY operator_id, lot, hour`,
		append([]any{from.UTC(), to.UTC()}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("ridershipch: parking flow: %w", err)
	}
	defer rows.Close()
	var out []ParkingHour
	for rows.Next() {
		var op, lot, dir string
		var hour time.Time
		var n uint64
		var fee int64
		if err := rows.Scan(&op, &lot, &hour, &dir, &n, &fee); err != nil {
			return nil, fmt.Errorf("ridershipch: parking flow: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Lot != lot || !out[len(out)-1].Hour.Equal(hour) {
			out = append(out, ParkingHour{OperatorID: op, Lot: lot, Hour: hour.UTC()})
		}
		if dir == "in" {
			out[len(out)-1].In += n
		} else {
			out[len(out)-1].Out += n
			out[len(out)-1].FeeVND += fee
		}
	}
	return out, rows.Err()
}

// ReclosedWithin bounds how far a journey's exit time moves when it is
// closed again: a journey closed for a missing exit is corrected by its
// real exit, which a gate may hold offline for up to 7 days, plus the
// longest journey.
const ReclosedWithin = 8 * 24 * time.Hour

// LatestJourneys is a subquery, for a FROM clause, of the journeys in
// table (db.journeys) that ended in [from, to) as they were last closed:
// one row per journey, the columns of the journeys table but version, each
// from its row of the highest version. A journey closed again (a late exit
// moves its exit time, a late entry changes its fare) is exported again,
// and the two rows may not share a sorting key, so FINAL does not collapse
// them; reading every version within ReclosedWithin of the period of the
// journeys with a version in it (GLOBAL IN: on a cluster the ids are
// gathered once and sent to every shard) and keeping the latest does,
// exactly, without grouping every journey of the surrounding weeks.
func LatestJourneys(table string, from, to time.Time) string {
	lo, hi := from.Add(-ReclosedWithin).Unix(), to.Add(ReclosedWithin).Unix()
	return fmt.Sprintf(`(SELECT journey_id, rk AS rider_key, nw AS network_id, op AS operator_id, es AS entry_site,
		xs AS exit_site, ea AS entry_at, xa AS exit_at, st AS status, ca AS category, fr AS fare_rule, fa AS fare
	FROM (SELECT journey_id, argMax(rider_key, version) AS rk, argMax(network_id, version) AS nw,
			argMax(operator_id, version) AS op, argMax(entry_site, version) AS es, argMax(exit_site, version) AS xs,
			argMax(entry_at, version) AS ea, argMax(exit_at, version) AS xa, argMax(status, version) AS st,
			argMax(category, version) AS ca, argMax(fare_rule, version) AS fr, argMax(fare, version) AS fa
		FROM %s WHERE exit_at >= toDateTime(%d) AND exit_at < toDateTime(%d)
			AND journey_id GLOBAL IN (SELECT journey_id FROM %s WHERE exit_at >= toDateTime(%d) AND exit_at < toDateTime(%d))
		GROUP BY journey_id)
	WHERE xa >= toDateTime(%d) AND xa < toDateTime(%d))`, table, lo, hi, table, from.Unix(), to.Unix(), from.Unix(), to.Unix())
}
