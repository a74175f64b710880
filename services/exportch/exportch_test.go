package exportch_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
	"github.com/vnpass/vnpass/services/exportch"
	"github.com/vnpass/vnpass/services/ridershipch"
	"github.com/vnpass/vnpass/services/settlepg"
)

func open(t *testing.T) *ridershipch.Sink {
	t.Helper()
	c := testenv.ClickHouseDB(t)
	s, err := ridershipch.Open(context.Background(), ridershipch.Config{Addr: c.Addr, User: c.User, Password: c.Password, Database: c.Database})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func taps(site, kind string, riders int, at time.Time) []ridership.Tap {
	var out []ridership.Tap
	for i := 0; i < riders; i++ {
		tt := at.Add(time.Duration(i) * time.Second)
		out = append(out, ridership.Tap{EventID: proto.NewEventID(tt), Device: site + "-g01", Site: site, Kind: kind,
			RiderKey: fmt.Sprintf("rk%03d", i), CapturedAt: tt, ReceivedAt: tt, Open: true, Reason: "ok", Fare: money.Dong(0)})
	}
	return out
}

// TestParquetAndSuppression: the Parquet file holds the same rows as the
// CSV, suppressed cells as nulls; an HCMC export holds no Hanoi station.
func TestParquetAndSuppression(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 3, 1, 0, 0, 0, time.UTC) // 08:00 in Hanoi
	var all []ridership.Tap
	all = append(all, taps("hn2a-lang", "metro_entry", 11, at)...)
	all = append(all, taps("hn2a-lang", "metro_entry", 4, at.Add(time.Hour))...)
	all = append(all, taps("hcm1-ben-thanh", "metro_entry", 20, at)...)
	all = append(all, taps("hn2a-lang", "parking_entry", 20, at)...) // not a station tap
	if err := s.WriteTaps(ctx, all); err != nil {
		t.Fatal(err)
	}
	e := &exportch.Exporter{Conn: s.Conn(), Database: s.Database()}
	day := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	req := exportch.Request{City: "hanoi", From: day, To: day}
	var c, p bytes.Buffer
	cw, _ := exportch.NewWriter(exportch.CSV, &c)
	sc, err := e.Export(ctx, exportch.StationHours, req, cw, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "date,hour,stop_id,entries,exits,refused,riders,suppressed\n" +
		"2026-11-03,08,hn2a-lang,11,0,0,11,0\n" +
		"2026-11-03,09,hn2a-lang,,,,,1\n"
	if c.String() != want || sc.Taps != 11 || sc.SuppressedCells != 1 {
		t.Errorf("station_hours:\n%s%+v", c.String(), sc)
	}
	pw, _ := exportch.NewWriter(exportch.Parquet, &p)
	if _, err := e.Export(ctx, exportch.StationHours, req, pw, nil); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(p.Bytes()), int64(p.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRows() != 2 {
		t.Errorf("parquet rows %d", f.NumRows())
	}
	type row struct {
		StopID     *string `parquet:"stop_id"`
		Entries    *int64  `parquet:"entries"`
		Suppressed *int64  `parquet:"suppressed"`
	}
	rows, err := parquet.Read[row](bytes.NewReader(p.Bytes()), int64(p.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || *rows[0].StopID != "hn2a-lang" || *rows[0].Entries != 11 || rows[1].Entries != nil || *rows[1].Suppressed != 1 {
		t.Errorf("parquet rows %+v", rows)
	}
	c.Reset()
	cw, _ = exportch.NewWriter(exportch.CSV, &c)
	if _, err := e.Export(ctx, exportch.StationActivities, exportch.Request{City: "hcmc", From: day, To: day}, cw, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.String(), "hn2a") || !strings.Contains(c.String(), "2026-11-03,hcm1-ben-thanh,2026-11-03T08:00:00+07:00,2026-11-03T09:00:00+07:00,20,0,0") {
		t.Errorf("hcmc station_activities:\n%s", c.String())
	}
	if _, err := e.Export(ctx, exportch.FareTransactions, req, cw, nil); err == nil {
		t.Error("fare_transactions without a recipient key")
	}
	if _, err := e.Export(ctx, exportch.StationHours, exportch.Request{City: "paris", From: day, To: day}, cw, nil); err == nil {
		t.Error("unknown city exported")
	}
}

type fakeLedger map[string][]settlepg.OperatorClearing

func (f fakeLedger) Clearing(_ context.Context, day time.Time) ([]settlepg.OperatorClearing, error) {
	return f[day.Format(time.DateOnly)], nil
}

func TestRevenueSumsTheLedgerAndRefusesAnUnbalancedDay(t *testing.T) {
	d := decimal.NewFromInt
	l := fakeLedger{
		"2026-11-01": {{Operator: "hanoi-metro", Journeys: 2, Fares: d(20000), Total: d(20000), Ledger: d(20000)},
			{Operator: "hurc1", Fares: d(9000), Total: d(9000), Ledger: d(9000)}},
		"2026-11-02": {{Operator: "hanoi-metro", Journeys: 1, Fares: d(8000), Refunds: d(-8000), Passes: d(30000), Total: d(30000), Ledger: d(30000)}},
	}
	e := &exportch.Exporter{Ledger: l}
	var b bytes.Buffer
	w, _ := exportch.NewWriter(exportch.CSV, &b)
	var calls int
	s, err := e.Export(context.Background(), exportch.Revenue, exportch.Request{City: "hanoi",
		From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}, w, func(done, total int64) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	want := "operator_id,from,to,journeys,fares_vnd,corrections_vnd,refunds_vnd,passes_vnd,parking_vnd,other_vnd,total_vnd,ledger_vnd\n" +
		"hanoi-metro,2026-11-01,2026-11-03,3,28000,0,-8000,30000,0,0,50000,50000\n"
	if b.String() != want || !s.Revenue.Equal(d(50000)) || calls != 3 {
		t.Errorf("revenue:\n%s%+v, %d progress calls", b.String(), s, calls)
	}
	l["2026-11-02"][0].Ledger = d(1)
	if _, err := e.Export(context.Background(), exportch.Revenue, exportch.Request{City: "hanoi",
		From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)}, w, nil); err == nil {
		t.Error("an unbalanced clearing day was exported")
	}
}

// TestPurgeTaps: months wholly before the cutoff are dropped, the rest of
// the cutoff's month before it deleted; journeys stay.
func TestPurgeTaps(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var all []ridership.Tap
	for _, at := range []time.Time{
		time.Date(2026, 8, 15, 3, 0, 0, 0, time.UTC),
		time.Date(2026, 9, 15, 3, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC),
	} {
		all = append(all, taps("hn2a-lang", "metro_entry", 5, at)...)
	}
	if err := s.WriteTaps(ctx, all); err != nil {
		t.Fatal(err)
	}
	js := []ridership.Journey{{ID: 1, RiderKey: "rk", NetworkID: "hn2a", OperatorID: "hanoi-metro", EntrySite: "hn2a-lang", ExitSite: "hn2a-ha-dong",
		EntryAt: all[0].CapturedAt, ExitAt: all[0].CapturedAt.Add(time.Hour), Status: "closed", Category: "adult", Fare: money.Dong(8000)}}
	if err := s.WriteJourneys(ctx, js); err != nil {
		t.Fatal(err)
	}
	cutoff := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	count := func() uint64 {
		var n uint64
		if err := s.Conn().QueryRow(ctx, "SELECT count() FROM "+s.Database()+".taps").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	res, err := exportch.PurgeTaps(ctx, s.Conn(), s.Database(), cutoff, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.DroppedPartitions, ",") != "202608,202609" || res.Mutation || count() != 10 {
		t.Errorf("purge by month: %+v, %d taps left", res, count())
	}
	res, err = exportch.PurgeTaps(ctx, s.Conn(), s.Database(), cutoff, true)
	if err != nil || !res.Mutation {
		t.Fatalf("exact purge: %+v %v", res, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for count() != 5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := count(); n != 5 {
		t.Errorf("%d taps left after the exact purge, want 5", n)
	}
	if c, err := s.Count(ctx); err != nil || c.Journeys != 1 {
		t.Errorf("journeys after purge: %+v %v", c, err)
	}
}

// A tap with no rider (refused before one was known, or an erased rider's)
// has no token in fare_transactions, not one token shared by all of them.
func TestFareTransactionsTokenOnlyWithARider(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 3, 1, 0, 0, 0, time.UTC)
	all := taps("hn2a-lang", "metro_entry", 12, at)
	for i := 0; i < 3; i++ {
		tt := at.Add(time.Duration(30+i) * time.Second)
		all = append(all, ridership.Tap{EventID: proto.NewEventID(tt), Device: "hn2a-lang-g01", Site: "hn2a-lang", Kind: "metro_entry",
			CapturedAt: tt, ReceivedAt: tt, Open: false, Reason: "no_account", Fare: money.Dong(0)})
	}
	if err := s.WriteTaps(ctx, all); err != nil {
		t.Fatal(err)
	}
	e := &exportch.Exporter{Conn: s.Conn(), Database: s.Database()}
	day := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	req := exportch.Request{City: "hanoi", From: day, To: day, Recipient: "ubnd-hanoi", RecipientKey: exportch.RecipientKey([]byte("m"), "ubnd-hanoi")}
	var c bytes.Buffer
	cw, _ := exportch.NewWriter(exportch.CSV, &c)
	if _, err := e.Export(ctx, exportch.FareTransactions, req, cw, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(c.String()), "\n")
	col := slices.Index(strings.Split(lines[0], ","), "token_id")
	empty, tokens := 0, map[string]bool{}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if f[col] == "" {
			empty++
		} else {
			tokens[f[col]] = true
		}
	}
	if empty != 3 || len(tokens) != 12 {
		t.Errorf("%d rows without a token (want the 3 with no rider), %d distinct tokens (want 12):\n%s", empty, len(tokens), c.String())
	}
}
