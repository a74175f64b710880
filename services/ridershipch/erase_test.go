package ridershipch_test

import (
	"context"
	"testing"
	"time"

	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
)

// TestEraseRider: a rider's taps, journeys and parking sessions lose their
// pseudonymous key and plate key (an ALTER TABLE … UPDATE mutation, waited
// for) and stay, anonymous, so that the counts do not change; another
// rider's rows stay as they were; erasing again is harmless; a key that is
// not a key is refused before any statement.
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
	journeys := func() (n uint64) {
		t.Helper()
		from := now.Add(-time.Hour)
		cells, err := s.Journeys(ctx, from, from.Add(3*time.Hour), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cells {
			n += c.Journeys
		}
		return n
	}
	if n := journeys(); n != 4 {
		t.Fatalf("journeys counted: %d, want 4", n)
	}
	for i := 0; i < 2; i++ { // twice: the second changes nothing more
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
		if n := count(table, ""); n != 2 {
			t.Errorf("%s: %d anonymous rows, want the erased rider's 2", table, n)
		}
	}
	var plates uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM "+s.Database()+".parking_sessions WHERE plate_key = 'p"+gone+"'").Scan(&plates); err != nil || plates != 0 {
		t.Errorf("the erased rider's plate key left in %d sessions (%v)", plates, err)
	}
	if n := journeys(); n != 4 {
		t.Errorf("journeys counted after erasure: %d, want 4 (counts kept, without identity)", n)
	}
	if err := s.EraseRider(ctx, "x' OR 1=1 --", time.Second); err == nil {
		t.Error("a key with SQL in it was accepted")
	}
}
