package ridershipch_test

import (
	"context"
	"testing"
	"time"

	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
	"github.com/vnpass/vnpass/services/ridershipch"
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

func TestWriteTwiceKeepsOneRowPerTap(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 7, 30, 0, 0, time.UTC)
	var taps []ridership.Tap
	for i := 0; i < 1000; i++ {
		at := now.Add(time.Duration(i) * time.Second)
		taps = append(taps, ridership.Tap{
			EventID: proto.NewEventID(at), Device: "hn2a-lang-g01", Site: "hn2a-lang", Kind: "metro_exit",
			RiderKey: "abc", CapturedAt: at, ReceivedAt: at, Open: true, Reason: "ok", Fare: money.Dong(8000),
		})
	}
	// A crash between writing and marking the outbox replays the batch.
	for i := 0; i < 2; i++ {
		if err := s.WriteTaps(ctx, taps); err != nil {
			t.Fatal(err)
		}
	}
	js := []ridership.Journey{{ID: 7, RiderKey: "abc", NetworkID: "n", OperatorID: "o", EntrySite: "a", ExitSite: "b",
		EntryAt: now, ExitAt: now.Add(10 * time.Minute), Status: "closed", Category: "adult", FareRule: "r", Fare: money.Dong(15000)}}
	for i := 0; i < 3; i++ {
		if err := s.WriteJourneys(ctx, js); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Taps != 1000 || c.DistinctTaps != 1000 || c.Journeys != 1 {
		t.Errorf("counts %+v, want 1000 taps, 1 journey", c)
	}
	var fare string
	if err := s.Conn().QueryRow(ctx, "SELECT toString(sum(fare)) FROM "+s.Database()+".taps FINAL").Scan(&fare); err != nil {
		t.Fatal(err)
	}
	if fare != "8000000" {
		t.Errorf("sum of fares %s, want 8000000", fare)
	}
}

// TestJourneyClosedAgainCountsOnce: a journey closed for a missing exit
// (maximum fare, exit time when it was closed) and closed again by its real
// exit, which arrived later from an offline gate (another hour, a lower
// fare, a higher version), counts once, as last closed, in the dashboard's
// journeys; the first version is not in its old hour any more. Written the
// other way round (the newer version first), the same.
func TestJourneyClosedAgainCountsOnce(t *testing.T) {
	ctx := context.Background()
	entry := time.Date(2026, 11, 24, 6, 10, 0, 0, time.UTC)
	missing := ridership.Journey{ID: 41, RiderKey: "abc", NetworkID: "hn2a", OperatorID: "hanoi-metro", EntrySite: "hn2a-cat-linh",
		EntryAt: entry, ExitAt: entry.Add(5 * time.Hour), Status: "incomplete", Category: "adult", FareRule: "missing_exit",
		Fare: money.Dong(19000), Version: 100}
	real := missing
	real.ExitSite, real.ExitAt, real.Status, real.FareRule, real.Fare, real.Version = "hn2a-ha-dong", entry.Add(25*time.Minute), "closed", "r", money.Dong(15000), 250
	other := ridership.Journey{ID: 42, RiderKey: "def", NetworkID: "hn2a", OperatorID: "hanoi-metro", EntrySite: "hn2a-lang",
		ExitSite: "hn2a-ha-dong", EntryAt: entry, ExitAt: entry.Add(20 * time.Minute), Status: "closed", Category: "adult",
		FareRule: "r", Fare: money.Dong(9000), Version: 120}
	for name, order := range map[string][]ridership.Journey{"in order": {missing, other, real}, "newest first": {real, other, missing}} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			for _, j := range order {
				if err := s.WriteJourneys(ctx, []ridership.Journey{j}); err != nil {
					t.Fatal(err)
				}
			}
			c, err := s.Count(ctx)
			if err != nil || c.Journeys != 2 {
				t.Errorf("journeys counted %d (%v), want 2", c.Journeys, err)
			}
			from := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
			cells, err := s.Journeys(ctx, from, from.Add(24*time.Hour), nil)
			if err != nil {
				t.Fatal(err)
			}
			var n uint64
			var fares int64
			for _, c := range cells {
				n, fares = n+c.Journeys, fares+c.FareVND
				if c.EntrySite == "hn2a-cat-linh" && (c.ExitSite != "hn2a-ha-dong" || !c.Hour.Equal(entry.Truncate(time.Hour))) {
					t.Errorf("the journey closed again is counted as %+v, want its real exit at 06:35", c)
				}
			}
			if n != 2 || fares != 24000 {
				t.Errorf("%d journeys, %d ₫ in %+v; want 2 and 15.000 + 9.000", n, fares, cells)
			}
			// The old version's hour (11:00) holds nothing now.
			late, err := s.Journeys(ctx, entry.Add(5*time.Hour).Truncate(time.Hour), entry.Add(6*time.Hour), nil)
			if err != nil || len(late) != 0 {
				t.Errorf("the first close still counted at its hour: %+v (%v)", late, err)
			}
		})
	}
}

// TestUpgradeFromOlderSchema: a database made before journeys had versions
// and while journeys_1h existed is brought up to date when opened: the
// column is added, the old aggregate and its view dropped, and journeys
// written before (version 0) still count.
func TestUpgradeFromOlderSchema(t *testing.T) {
	ctx := context.Background()
	c := testenv.ClickHouseDB(t)
	cfg := ridershipch.Config{Addr: c.Addr, User: c.User, Password: c.Password, Database: c.Database}
	s, err := ridershipch.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := s.Database()
	// Make it look like the older schema.
	for _, q := range []string{
		"ALTER TABLE " + db + ".journeys DROP COLUMN version",
		"CREATE TABLE " + db + ".journeys_1h (hour DateTime, journeys AggregateFunction(uniqExact, UInt64)) ENGINE = AggregatingMergeTree() PARTITION BY toYYYYMM(hour) ORDER BY hour",
		"CREATE MATERIALIZED VIEW " + db + ".journeys_1h_mv TO " + db + ".journeys_1h AS SELECT toDateTime(intDiv(toUInt32(exit_at), 3600) * 3600) AS hour, uniqExactState(journey_id) AS journeys FROM " + db + ".journeys GROUP BY hour",
		"INSERT INTO " + db + ".journeys (journey_id, rider_key, network_id, operator_id, entry_site, exit_site, entry_at, exit_at, status, category, fare_rule, fare) SELECT toUInt64(9), 'k', 'hn2a', 'hanoi-metro', 'a', 'b', toDateTime('2026-11-24 07:00:00', 'UTC'), toDateTime('2026-11-24 07:20:00', 'UTC'), 'closed', 'adult', 'r', toDecimal64(8000, 0)",
	} {
		if err := s.Conn().Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	// Three replicas of the service start at once on the old database:
	// each upgrades it, or finds it upgraded.
	opened := make(chan error, 3)
	for range 3 {
		go func() {
			o, err := ridershipch.Open(ctx, cfg)
			if err == nil {
				o.Close()
			}
			opened <- err
		}()
	}
	for range 3 {
		if err := <-opened; err != nil {
			t.Errorf("a replica opening the old database at the same time as two others: %v", err)
		}
	}
	if s, err = ridershipch.Open(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND name LIKE 'journeys_1h%'").Scan(&n); err != nil || n != 0 {
		t.Errorf("journeys_1h tables left: %d (%v)", n, err)
	}
	if err := s.WriteJourneys(ctx, []ridership.Journey{{ID: 10, RiderKey: "k", NetworkID: "hn2a", OperatorID: "hanoi-metro",
		EntrySite: "a", ExitSite: "b", EntryAt: time.Date(2026, 11, 24, 7, 5, 0, 0, time.UTC), ExitAt: time.Date(2026, 11, 24, 7, 30, 0, 0, time.UTC),
		Status: "closed", Category: "adult", FareRule: "r", Fare: money.Dong(9000), Version: 5}}); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	cells, err := s.Journeys(ctx, from, from.Add(24*time.Hour), nil)
	if err != nil || len(cells) != 1 || cells[0].Journeys != 2 || cells[0].FareVND != 17000 {
		t.Errorf("after the upgrade: %+v (%v), want one cell of 2 journeys, 17.000 ₫", cells, err)
	}
}
