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
