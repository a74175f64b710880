package ridershipch_test

import (
	"context"
	"testing"
	"time"

	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
)

// TestEraseRider: a rider's taps, journeys and parking sessions are deleted
// by their pseudonymous key (an ALTER TABLE … DELETE mutation, waited for);
// another rider's rows and the aggregates' counts stay; erasing again is
// harmless; a key that is not a key is refused before any statement.
func TestEraseRider(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if err := s.EnsureParking(ctx); err != nil {
		t.Fatal(err)
	}
	const gone, kept = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	now := time.Date(2026, 11, 24, 7, 30, 0, 0, time.UTC)
	var taps []ridership.Tap
	var js []ridership.Journey
	var ps []ridership.ParkingSession
	for i, key := range []string{gone, kept, gone, kept} {
		at := now.Add(time.Duration(i) * time.Minute)
		taps = append(taps, ridership.Tap{EventID: proto.NewEventID(at), Device: "hn2a-lang-g01", Site: "hn2a-lang", Kind: "metro_entry",
			RiderKey: key, CapturedAt: at, ReceivedAt: at, Open: true, Reason: "ok"})
		js = append(js, ridership.Journey{ID: int64(i + 1), RiderKey: key, NetworkID: "hn2a", OperatorID: "hanoi-metro", EntrySite: "a",
			ExitSite: "b", EntryAt: at, ExitAt: at.Add(10 * time.Minute), Status: "closed", Category: "adult", FareRule: "r", Fare: money.Dong(8000)})
		ps = append(ps, ridership.ParkingSession{ID: int64(i + 1), Lot: "hnp-cat-linh", OperatorID: "hn-parking", RiderKey: key, PlateKey: "p" + key,
			Class: "motorbike", Tariff: "t", EntryAt: at, ExitAt: at.Add(time.Hour), Fee: money.Dong(5000), Rule: "r"})
	}
	if err := s.WriteTaps(ctx, taps); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteJourneys(ctx, js); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteParkingSessions(ctx, ps); err != nil {
		t.Fatal(err)
	}
	count := func(table, key string) uint64 {
		t.Helper()
		var n uint64
		if err := s.Conn().QueryRow(ctx, "SELECT count() FROM "+s.Database()+"."+table+" WHERE rider_key = '"+key+"'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	aggregate := func() uint64 {
		t.Helper()
		var n uint64
		if err := s.Conn().QueryRow(ctx, "SELECT uniqExactMerge(journeys) FROM "+s.Database()+".journeys_1h").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if a := aggregate(); a != 4 {
		t.Fatalf("journeys counted by the aggregate: %d, want 4", a)
	}
	for i := 0; i < 2; i++ { // twice: the second deletes nothing more
		if err := s.EraseRider(ctx, gone, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range []string{"taps", "journeys", "parking_sessions"} {
		if n := count(table, gone); n != 0 {
			t.Errorf("%s: %d rows of the erased rider left", table, n)
		}
		if n := count(table, kept); n != 2 {
			t.Errorf("%s: %d rows of the other rider, want 2", table, n)
		}
	}
	if a := aggregate(); a != 4 {
		t.Errorf("the aggregate's journeys after erasure: %d, want 4 (counts kept, without identity)", a)
	}
	if err := s.EraseRider(ctx, "x' OR 1=1 --", time.Second); err == nil {
		t.Error("a key with SQL in it was accepted")
	}
}
