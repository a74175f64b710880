package ridershipch_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/ridership"
	"github.com/vnpass/vnpass/services/ridershipch"
)

// TestAggregatesExactWhenBatchesRetried: a seeded day of taps, journeys and
// parking sessions, every batch written twice (the exporter's retry after
// a crash between writing and marking the outbox) and one written a third
// time: the aggregates kept by the materialized views equal the seeded
// counts and the raw tables read with FINAL, nothing counted twice.
func TestAggregatesExactWhenBatchesRetried(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if err := s.EnsureParking(ctx); err != nil {
		t.Fatal(err)
	}
	d := seedDay()
	d.writeRetried(t, s)
	d.check(t, s)
}

// seeded is a day of taps, journeys and parking sessions with the
// numbers the aggregates must show.
type seeded struct {
	day      time.Time
	taps     []ridership.Tap
	js       []ridership.Journey
	ps       []ridership.ParkingSession
	want     map[string][2]uint64 // site|slot -> entries, exits
	wantFare int64
}

func seedDay() *seeded {
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC).Add(-7 * time.Hour) // local midnight, Asia/Ho_Chi_Minh
	sites := []string{"hn2a-cat-linh", "hn2a-lang", "hn2a-yen-nghia"}
	var taps []ridership.Tap
	var js []ridership.Journey
	want := map[string][2]uint64{} // site|slot -> entries, exits
	var wantFare int64
	for i := 0; i < 600; i++ {
		from, to := sites[i%3], sites[(i+1)%3]
		in := day.Add(6*time.Hour + time.Duration(i)*47*time.Second)
		out := in.Add(20 * time.Minute)
		rider := fmt.Sprintf("r%03d", i%50)
		taps = append(taps,
			ridership.Tap{EventID: fmt.Sprintf("in-%d", i), Device: from + "-in01", Site: from, Kind: "metro_entry", RiderKey: rider,
				CapturedAt: in, ReceivedAt: in, Open: true, Reason: "ok"},
			ridership.Tap{EventID: fmt.Sprintf("out-%d", i), Device: to + "-out01", Site: to, Kind: "metro_exit", RiderKey: rider,
				CapturedAt: out, ReceivedAt: out, Open: true, Reason: "ok", Fare: money.Dong(8000 + int64(i%3)*1000)})
		k := from + "|" + in.Truncate(15*time.Minute).Format(time.RFC3339)
		w := want[k]
		w[0]++
		want[k] = w
		k = to + "|" + out.Truncate(15*time.Minute).Format(time.RFC3339)
		w = want[k]
		w[1]++
		want[k] = w
		fare := 8000 + int64(i%3)*1000
		wantFare += fare
		js = append(js, ridership.Journey{ID: int64(i + 1), RiderKey: rider, NetworkID: "hn2a", OperatorID: "hanoi-metro",
			EntrySite: from, ExitSite: to, EntryAt: in, ExitAt: out, Status: "closed", Category: "adult", FareRule: "r", Fare: money.Dong(fare)})
	}
	// A refused tap does not count as an entry.
	taps = append(taps, ridership.Tap{EventID: "refused", Device: "hn2a-lang-in01", Site: "hn2a-lang", Kind: "metro_entry",
		CapturedAt: day.Add(7 * time.Hour), ReceivedAt: day.Add(7 * time.Hour), Open: false, Reason: "insufficient_balance"})
	var ps []ridership.ParkingSession
	for i := 0; i < 40; i++ {
		in := day.Add(7*time.Hour + time.Duration(i)*time.Minute)
		ps = append(ps, ridership.ParkingSession{ID: int64(i + 1), Lot: "hnp-cat-linh", OperatorID: "hn-parking", PlateKey: "p",
			Class: "motorbike", Tariff: "t", EntryAt: in, ExitAt: in.Add(2 * time.Hour), Fee: money.Dong(5000), Rule: "r"})
	}
	return &seeded{day: day, taps: taps, js: js, ps: ps, want: want, wantFare: wantFare}
}

// writeRetried writes every batch twice and part of one a third time.
func (d *seeded) writeRetried(t *testing.T, s *ridershipch.Sink) {
	t.Helper()
	ctx := context.Background()
	taps, js, ps := d.taps, d.js, d.ps
	for round := 0; round < 2; round++ {
		for i := 0; i < len(taps); i += 500 {
			if err := s.WriteTaps(ctx, taps[i:min(i+500, len(taps))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.WriteJourneys(ctx, js); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteParkingSessions(ctx, ps); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteTaps(ctx, taps[100:300]); err != nil { // a third time, a partial batch
		t.Fatal(err)
	}
}

// check reads the aggregates and the raw tables back.
func (d *seeded) check(t *testing.T, s *ridershipch.Sink) {
	t.Helper()
	ctx := context.Background()
	day, wantFare := d.day, d.wantFare
	want := map[string][2]uint64{}
	for k, v := range d.want {
		want[k] = v
	}

	got, err := s.StationActivity(ctx, day, day.Add(24*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	var entries, exits uint64
	for _, g := range got {
		k := g.Site + "|" + g.Slot.Format(time.RFC3339)
		if w := want[k]; w[0] != g.Entries || w[1] != g.Exits {
			t.Errorf("%s: %d entries %d exits, want %v", k, g.Entries, g.Exits, w)
		}
		delete(want, k)
		entries += g.Entries
		exits += g.Exits
	}
	if len(want) > 0 || entries != 600 || exits != 600 {
		t.Errorf("%d entries, %d exits, slots missing: %v", entries, exits, want)
	}
	var rawEntries uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM "+s.Database()+".taps FINAL WHERE open = 1 AND kind = 'metro_entry'").Scan(&rawEntries); err != nil {
		t.Fatal(err)
	}
	if rawEntries != entries {
		t.Errorf("raw taps (FINAL) %d entries, aggregate %d", rawEntries, entries)
	}
	only, err := s.StationActivity(ctx, day, day.Add(24*time.Hour), ridershipch.Filter{"hn2a-lang"})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range only {
		if g.Site != "hn2a-lang" {
			t.Errorf("filtered to hn2a-lang, got %s", g.Site)
		}
	}
	if none, _ := s.StationActivity(ctx, day, day.Add(24*time.Hour), ridershipch.Filter{}); len(none) != 0 {
		t.Errorf("an empty filter gave %d rows", len(none))
	}

	cells, err := s.Journeys(ctx, day, day.Add(24*time.Hour), ridershipch.Filter{"hn2a"})
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	var fare int64
	for _, c := range cells {
		n += c.Journeys
		fare += c.FareVND
	}
	if n != 600 || fare != wantFare {
		t.Errorf("journeys %d fares %d, want 600 and %d", n, fare, wantFare)
	}
	if other, _ := s.Journeys(ctx, day, day.Add(24*time.Hour), ridershipch.Filter{"hcm1"}); len(other) != 0 {
		t.Errorf("hcm1 has %d cells", len(other))
	}

	flow, err := s.ParkingFlow(ctx, day, day.Add(24*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	var pin, pout uint64
	var fees int64
	for _, f := range flow {
		pin += f.In
		pout += f.Out
		fees += f.FeeVND
	}
	if pin != 40 || pout != 40 || fees != 200000 {
		t.Errorf("parking in %d out %d fees %d, want 40, 40, 200000: %+v", pin, pout, fees, flow)
	}
}
