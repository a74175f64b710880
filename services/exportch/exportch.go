// Package exportch produces the People's Committees' exports of a city for a
// period of local dates (UTC+7): ridership per station and hour,
// origin-destination matrices, revenue per operator, and the TIDES-shaped
// station_activities and fare_transactions files, as CSV or Parquet.
//
// Ridership is read from ClickHouse (services/ridershipch tables, FINAL so a
// replayed batch counts once; journeys as last closed,
// ridershipch.LatestJourneys); revenue from the ledger (settlepg.Clearing,
// each day proved against the ledger). Cells with fewer than K distinct
// riders are suppressed; fare_transactions carry pseudonyms keyed per
// recipient, never the analytics rider key and never a VNeID subject. See
// README.md for the files, the mapping to TIDES and the suppression rule.
package exportch

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/vnpass/vnpass/services/ridershipch"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/services/settlepg"
)

// Kind of export file.
type Kind string

const (
	StationHours      Kind = "station_hours"      // entries, exits, refused taps, riders per station and local hour
	ODDaily           Kind = "od_daily"           // journeys per origin, destination and local day
	ODHourly          Kind = "od_hourly"          // journeys per origin, destination and local hour of exit
	Revenue           Kind = "revenue"            // per operator, from the ledger
	StationActivities Kind = "station_activities" // TIDES
	FareTransactions  Kind = "fare_transactions"  // TIDES, one row per tap, per-recipient pseudonyms
)

// Kinds lists every export.
var Kinds = []Kind{StationHours, ODDaily, ODHourly, Revenue, StationActivities, FareTransactions}

// ParseKind checks a kind's name.
func ParseKind(s string) (Kind, bool) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, true
		}
	}
	return "", false
}

// City is what belongs to a city: station ids starting with one of its
// prefixes, and the operators whose revenue is reported.
type City struct {
	ID           string
	SitePrefixes []string
	Operators    []string
}

// DefaultCities are Hanoi and Ho Chi Minh City; their operators are read
// from the shipped fare data (networks.txt).
func DefaultCities() map[string]City {
	return map[string]City{
		"hanoi": {ID: "hanoi", SitePrefixes: []string{"hn"}, Operators: operators(fare.Hanoi)},
		"hcmc":  {ID: "hcmc", SitePrefixes: []string{"hcm"}, Operators: operators(fare.HCMC)},
	}
}

func operators(load func() (*fare.Table, error)) []string {
	t, err := load()
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range t.Stops() {
		net, _, _ := strings.Cut(s.ID, "-")
		if n, ok := t.Network(net); ok && !seen[n.OperatorID] && n.OperatorID != "" {
			seen[n.OperatorID] = true
			out = append(out, n.OperatorID)
		}
	}
	sort.Strings(out)
	return out
}

// Ledger is the settlement store's daily clearing report.
type Ledger interface {
	Clearing(ctx context.Context, day time.Time) ([]settlepg.OperatorClearing, error)
}

// Exporter reads ClickHouse and the ledger.
type Exporter struct {
	Conn     driver.Conn
	Database string
	Ledger   Ledger
	Cities   map[string]City // DefaultCities when nil
	K        int             // minimum riders per published cell; 10 when 0
	MaxDays  int             // longest period; 366 when 0
}

// Request is one export.
type Request struct {
	City     string
	From, To time.Time // local dates, both included
	// Recipient names who receives the file; RecipientKey (>= 32 bytes)
	// keys its pseudonyms: the same rider has different pseudonyms in two
	// recipients' files, and nobody without the key can link them.
	Recipient    string
	RecipientKey []byte
	K            int // overrides Exporter.K when > 0
}

// Summary tells what an export held.
type Summary struct {
	Kind             Kind
	Rows             int64 // data rows written
	SuppressedCells  int64 // cells (rows) whose counts were withheld
	Taps             int64 // accepted taps published (station files)
	Journeys         int64 // journeys published (OD files)
	WithheldTaps     int64 // fare_transactions rows withheld (cells under K)
	Revenue          decimal.Decimal
	LedgerRevenue    decimal.Decimal
	RevenueOperators int
}

// Progress is told rows written so far and the expected total (0 when unknown).
type Progress func(done, total int64)

var sitePrefix = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

// RecipientKey derives a recipient's pseudonym key from a master secret:
// HMAC-SHA256(master, "vnpass-export-recipient:" + recipient).
func RecipientKey(master []byte, recipient string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("vnpass-export-recipient:" + recipient))
	return m.Sum(nil)
}

// pseudonym is HMAC-SHA256(key, domain + value), 128 bits in hex.
func pseudonym(key []byte, domain, v string) string {
	if v == "" {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(domain))
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// ErrBadRequest is a request that cannot be exported (unknown city, bad period).
var ErrBadRequest = errors.New("exportch: bad request")

type plan struct {
	city       City
	from, to   time.Time // instants [from, to)
	fromU, toU int64
	k          int
	where      string // site filter on column "site"
}

func (e *Exporter) plan(req Request) (plan, error) {
	cities := e.Cities
	if cities == nil {
		cities = DefaultCities()
	}
	c, ok := cities[req.City]
	if !ok {
		return plan{}, fmt.Errorf("%w: unknown city %q", ErrBadRequest, req.City)
	}
	if req.From.IsZero() || req.To.IsZero() || req.To.Before(req.From) {
		return plan{}, fmt.Errorf("%w: period %s..%s", ErrBadRequest, req.From.Format(time.DateOnly), req.To.Format(time.DateOnly))
	}
	from := time.Date(req.From.Year(), req.From.Month(), req.From.Day(), 0, 0, 0, 0, fare.Zone)
	to := time.Date(req.To.Year(), req.To.Month(), req.To.Day(), 0, 0, 0, 0, fare.Zone).AddDate(0, 0, 1)
	maxDays := e.MaxDays
	if maxDays <= 0 {
		maxDays = 366
	}
	if to.Sub(from) > time.Duration(maxDays)*24*time.Hour {
		return plan{}, fmt.Errorf("%w: period longer than %d days", ErrBadRequest, maxDays)
	}
	k := e.K
	if req.K > 0 {
		k = req.K
	}
	if k <= 0 {
		k = 10
	}
	return plan{city: c, from: from, to: to, fromU: from.Unix(), toU: to.Unix(), k: k, where: siteWhere("site", c)}, nil
}

func siteWhere(col string, c City) string {
	var ors []string
	for _, p := range c.SitePrefixes {
		if sitePrefix.MatchString(p) {
			ors = append(ors, col+" LIKE '"+p+"%'")
		}
	}
	if len(ors) == 0 {
		return "0"
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// localHour turns an hour number (hours since the epoch, local) into date and time.
func localHour(h int64) (date, start, end string) {
	t := time.Unix(h*3600-tzOffset, 0).In(fare.Zone)
	return t.Format(time.DateOnly), t.Format("15:04:05"), t.Add(time.Hour).Format("15:04:05")
}

func localDay(d int64) string {
	return time.Unix(d*86400-tzOffset, 0).In(fare.Zone).Format(time.DateOnly)
}

const tzOffset = 7 * 3600 // UTC+7, no daylight saving

// Station ridership counts metro gates and Hanoi Station's rail gates.
const stationKinds = "kind IN ('metro_entry', 'metro_exit', 'rail_gate')"

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// Export writes one kind for req to w, telling progress as rows go out.
func (e *Exporter) Export(ctx context.Context, kind Kind, req Request, w TableWriter, progress Progress) (Summary, error) {
	p, err := e.plan(req)
	if err != nil {
		return Summary{}, err
	}
	if progress == nil {
		progress = func(int64, int64) {}
	}
	var s Summary
	switch kind {
	case StationHours, StationActivities:
		s, err = e.stations(ctx, kind, p, w, progress)
	case ODDaily, ODHourly:
		s, err = e.od(ctx, kind, p, w, progress)
	case Revenue:
		s, err = e.revenue(ctx, p, w, progress)
	case FareTransactions:
		if len(req.RecipientKey) < 32 {
			return Summary{}, fmt.Errorf("%w: a recipient key of at least 32 bytes is needed", ErrBadRequest)
		}
		s, err = e.fareTransactions(ctx, p, req.RecipientKey, w, progress)
	default:
		return Summary{}, fmt.Errorf("%w: unknown export %q", ErrBadRequest, kind)
	}
	s.Kind = kind
	if err != nil {
		return s, err
	}
	return s, w.Close()
}

func (e *Exporter) tbl(name string) string { return e.Database + "." + name }

func (e *Exporter) stations(ctx context.Context, kind Kind, p plan, w TableWriter, progress Progress) (Summary, error) {
	var s Summary
	q := fmt.Sprintf(`SELECT site, intDiv(toUInt32(captured_at) + %d, 3600) AS h,
		countIf(open = 1 AND kind != 'metro_exit') AS entries,
		countIf(open = 1 AND kind = 'metro_exit') AS exits,
		countIf(open = 0) AS refused,
		uniqExactIf(rider_key, rider_key != '') AS riders
		FROM %s FINAL
		WHERE captured_at >= toDateTime(%d) AND captured_at < toDateTime(%d) AND %s AND %s
		GROUP BY site, h ORDER BY site, h`, tzOffset, e.tbl("taps"), p.fromU, p.toU, p.where, stationKinds)
	var cols []Column
	if kind == StationActivities {
		// TIDES station_activities (spec/station_activities.schema.json):
		// date, stop_id, time_period_start/end (datetimes), total_entries,
		// total_exits; suppressed is ours (a cell under k riders).
		cols = []Column{{"date", false}, {"stop_id", false}, {"time_period_start", false}, {"time_period_end", false},
			{"total_entries", true}, {"total_exits", true}, {"suppressed", true}}
	} else {
		cols = []Column{{"date", false}, {"hour", false}, {"stop_id", false}, {"entries", true}, {"exits", true},
			{"refused", true}, {"riders", true}, {"suppressed", true}}
	}
	if err := w.Header(cols); err != nil {
		return s, err
	}
	rows, err := e.Conn.Query(ctx, q)
	if err != nil {
		return s, fmt.Errorf("exportch: %s: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var site string
		var h, entries, exits, refused, riders uint64
		if err := rows.Scan(&site, &h, &entries, &exits, &refused, &riders); err != nil {
			return s, fmt.Errorf("exportch: %s: %w", kind, err)
		}
		date, start, _ := localHour(int64(h))
		en, ex, rf, rd, sup := itoa(entries), itoa(exits), itoa(refused), itoa(riders), "0"
		if riders < uint64(p.k) {
			en, ex, rf, rd, sup = "", "", "", "", "1"
			s.SuppressedCells++
		} else {
			s.Taps += int64(entries + exits)
		}
		var rec []string
		if kind == StationActivities {
			from := time.Unix(int64(h)*3600-tzOffset, 0).In(fare.Zone)
			rec = []string{date, site, from.Format(time.RFC3339), from.Add(time.Hour).Format(time.RFC3339), en, ex, sup}
		} else {
			rec = []string{date, start[:2], site, en, ex, rf, rd, sup}
		}
		if err := w.Row(rec); err != nil {
			return s, err
		}
		s.Rows++
		if s.Rows%1000 == 0 {
			progress(s.Rows, 0)
		}
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("exportch: %s: %w", kind, err)
	}
	progress(s.Rows, s.Rows)
	return s, nil
}

func (e *Exporter) od(ctx context.Context, kind Kind, p plan, w TableWriter, progress Progress) (Summary, error) {
	var s Summary
	div := 86400
	if kind == ODHourly {
		div = 3600
	}
	// Each journey once, as last closed (a late exit or entry closes it
	// again); an erased rider's journeys are counted without a rider.
	q := fmt.Sprintf(`SELECT entry_site, exit_site, intDiv(toUInt32(exit_at) + %d, %d) AS t,
		count() AS journeys, uniqExactIf(rider_key, rider_key != '') AS riders, toString(sum(fare)) AS fares
		FROM %s
		WHERE %s OR %s
		GROUP BY entry_site, exit_site, t ORDER BY t, entry_site, exit_site`,
		tzOffset, div, ridershipch.LatestJourneys(e.tbl("journeys"), p.from, p.to), siteWhere("entry_site", p.city), siteWhere("exit_site", p.city))
	cols := []Column{{"date", false}}
	if kind == ODHourly {
		cols = append(cols, Column{"hour", false})
	}
	cols = append(cols, Column{"origin_stop_id", false}, Column{"destination_stop_id", false},
		Column{"journeys", true}, Column{"riders", true}, Column{"fares_vnd", true}, Column{"suppressed", true})
	if err := w.Header(cols); err != nil {
		return s, err
	}
	rows, err := e.Conn.Query(ctx, q)
	if err != nil {
		return s, fmt.Errorf("exportch: %s: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, to, fares string
		var t, journeys, riders uint64
		if err := rows.Scan(&from, &to, &t, &journeys, &riders, &fares); err != nil {
			return s, fmt.Errorf("exportch: %s: %w", kind, err)
		}
		var rec []string
		if kind == ODHourly {
			date, start, _ := localHour(int64(t))
			rec = []string{date, start[:2]}
		} else {
			rec = []string{localDay(int64(t))}
		}
		jn, rd, fa, sup := itoa(journeys), itoa(riders), fares, "0"
		if riders < uint64(p.k) {
			jn, rd, fa, sup = "", "", "", "1"
			s.SuppressedCells++
		} else {
			s.Journeys += int64(journeys)
		}
		if err := w.Row(append(rec, from, to, jn, rd, fa, sup)); err != nil {
			return s, err
		}
		s.Rows++
		if s.Rows%1000 == 0 {
			progress(s.Rows, 0)
		}
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("exportch: %s: %w", kind, err)
	}
	progress(s.Rows, s.Rows)
	return s, nil
}

// revenue sums the ledger's daily clearing reports of the city's operators.
// Operator revenue is not about riders: it is not suppressed.
func (e *Exporter) revenue(ctx context.Context, p plan, w TableWriter, progress Progress) (Summary, error) {
	var s Summary
	if e.Ledger == nil {
		return s, errors.New("exportch: revenue needs the ledger")
	}
	mine := map[string]bool{}
	for _, o := range p.city.Operators {
		mine[o] = true
	}
	type sum struct {
		journeys                                                          int64
		fares, corrections, refunds, passes, parking, other, total, ledgr decimal.Decimal
	}
	by := map[string]*sum{}
	days := int64(p.to.Sub(p.from).Hours() / 24)
	if err := w.Header([]Column{{"operator_id", false}, {"from", false}, {"to", false}, {"journeys", true},
		{"fares_vnd", true}, {"corrections_vnd", true}, {"refunds_vnd", true}, {"passes_vnd", true},
		{"parking_vnd", true}, {"other_vnd", true}, {"total_vnd", true}, {"ledger_vnd", true}}); err != nil {
		return s, err
	}
	var i int64
	for d := p.from; d.Before(p.to); d = d.AddDate(0, 0, 1) {
		rep, err := e.Ledger.Clearing(ctx, d)
		if err != nil {
			return s, fmt.Errorf("exportch: revenue %s: %w", d.Format(time.DateOnly), err)
		}
		for _, c := range rep {
			if !mine[c.Operator] {
				continue
			}
			if !c.Balanced() {
				return s, fmt.Errorf("exportch: clearing of %s on %s is %s, ledger %s", c.Operator, c.Day, c.Total, c.Ledger)
			}
			x := by[c.Operator]
			if x == nil {
				x = &sum{}
				by[c.Operator] = x
			}
			x.journeys += c.Journeys
			x.fares, x.corrections, x.refunds = x.fares.Add(c.Fares), x.corrections.Add(c.Corrections), x.refunds.Add(c.Refunds)
			x.passes, x.parking, x.other = x.passes.Add(c.Passes), x.parking.Add(c.Parking), x.other.Add(c.Other)
			x.total, x.ledgr = x.total.Add(c.Total), x.ledgr.Add(c.Ledger)
		}
		i++
		progress(i, days)
	}
	ops := make([]string, 0, len(by))
	for o := range by {
		ops = append(ops, o)
	}
	sort.Strings(ops)
	from, to := p.from.Format(time.DateOnly), p.to.AddDate(0, 0, -1).Format(time.DateOnly)
	for _, o := range ops {
		x := by[o]
		if err := w.Row([]string{o, from, to, strconv.FormatInt(x.journeys, 10), x.fares.String(), x.corrections.String(),
			x.refunds.String(), x.passes.String(), x.parking.String(), x.other.String(), x.total.String(), x.ledgr.String()}); err != nil {
			return s, err
		}
		s.Rows++
		s.Revenue, s.LedgerRevenue = s.Revenue.Add(x.total), s.LedgerRevenue.Add(x.ledgr)
	}
	s.RevenueOperators = len(ops)
	return s, nil
}

// fareTransactions streams one row per station tap of the period, except the
// taps of (station, hour) cells with fewer than K riders, which are withheld
// as in station_hours. The rider appears only as HMAC(recipient key, rider
// key): token_id differs per recipient; transaction_id likewise. The cells
// are read first (one small aggregate), then the taps a local day at a time,
// so no query of a long period holds the connection silent for long.
func (e *Exporter) fareTransactions(ctx context.Context, p plan, key []byte, w TableWriter, progress Progress) (Summary, error) {
	var s Summary
	type cell struct {
		site string
		h    uint64
	}
	allowed := map[cell]bool{}
	var total, withheld int64
	rows, err := e.Conn.Query(ctx, fmt.Sprintf(`SELECT site, intDiv(toUInt32(captured_at) + %d, 3600) AS h, count(),
		uniqExactIf(rider_key, rider_key != '') FROM %s FINAL
		WHERE captured_at >= toDateTime(%d) AND captured_at < toDateTime(%d) AND %s AND %s GROUP BY site, h`,
		tzOffset, e.tbl("taps"), p.fromU, p.toU, p.where, stationKinds))
	if err != nil {
		return s, fmt.Errorf("exportch: fare_transactions: %w", err)
	}
	for rows.Next() {
		var c cell
		var n, riders uint64
		if err := rows.Scan(&c.site, &c.h, &n, &riders); err != nil {
			rows.Close()
			return s, fmt.Errorf("exportch: fare_transactions: %w", err)
		}
		total += int64(n)
		if riders >= uint64(p.k) {
			allowed[c] = true
		} else {
			withheld += int64(n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("exportch: fare_transactions: %w", err)
	}
	if err := w.Header([]Column{{"transaction_id", false}, {"service_date", false}, {"event_timestamp", false},
		{"stop_id", false}, {"device_id", false}, {"fare_action", false}, {"amount", true}, {"currency_type", false},
		{"fare_media_id", false}, {"token_id", false}, {"reason", false}}); err != nil {
		return s, err
	}
	var done int64
	for day := p.fromU; day < p.toU; day += 86400 {
		rows, err := e.Conn.Query(ctx, fmt.Sprintf(`SELECT event_id, site, device, kind, rider_key, toUInt32(captured_at), open, reason, toString(fare)
			FROM %s FINAL WHERE captured_at >= toDateTime(%d) AND captured_at < toDateTime(%d) AND %s AND %s`,
			e.tbl("taps"), day, day+86400, p.where, stationKinds))
		if err != nil {
			return s, fmt.Errorf("exportch: fare_transactions: %w", err)
		}
		for rows.Next() {
			var id, site, device, kind, rider, reason, amount string
			var at uint32
			var open uint8
			if err := rows.Scan(&id, &site, &device, &kind, &rider, &at, &open, &reason, &amount); err != nil {
				rows.Close()
				return s, fmt.Errorf("exportch: fare_transactions: %w", err)
			}
			if done++; done%10000 == 0 {
				progress(done, total)
			}
			if !allowed[cell{site, uint64((int64(at) + tzOffset) / 3600)}] {
				continue
			}
			t := time.Unix(int64(at), 0).In(fare.Zone)
			// No rider (a tap refused before one was known, or an erased
			// rider's): pseudonym gives no token, rather than one token for
			// all of them, which would read as one person.
			if err := w.Row([]string{pseudonym(key, "tx:", id), t.Format(time.DateOnly), t.Format(time.RFC3339), site, device,
				fareAction(kind, open == 1), amount, "VND", fareMedia, pseudonym(key, "rider:", rider), reason}); err != nil {
				rows.Close()
				return s, err
			}
			s.Rows++
			if open == 1 {
				s.Taps++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s, fmt.Errorf("exportch: fare_transactions: %w", err)
		}
	}
	s.WithheldTaps = withheld // as the cells were read
	progress(total, total)
	return s, nil
}

// fareMedia is TIDES' fare_media_id for a face matched by VNeID: the
// published enumeration has no biometric medium, so "Other type".
const fareMedia = "Other type"

// fareAction maps a tap to TIDES' fare_action (an enumeration in
// spec/fare_transactions.schema.json): "Enter", "Exit", and "Other" for a
// tap the gate refused (its reason column says why).
func fareAction(kind string, open bool) string {
	switch {
	case !open:
		return "Other"
	case kind == "metro_exit":
		return "Exit"
	default:
		return "Enter"
	}
}
