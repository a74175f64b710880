package parkingpg_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
)

type sink struct{ got []ridership.ParkingSession }

func (s *sink) WriteParkingSessions(_ context.Context, ss []ridership.ParkingSession) error {
	s.got = append(s.got, ss...)
	return nil
}

// Closed sessions leave once, with the rider and the plate as keyed hashes.
func TestExportPseudonymises(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.rider("vn_x", 50_000)
	want(t, "in", f.tap(proto.KindParkingEntry, "vn_x", "30A-123.45"), proto.ReasonOK)
	pseudo, err := ridership.NewPseudonymizer([]byte(strings.Repeat("p", 32)))
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	if n, err := f.store.Export(ctx, &s, pseudo, 100); err != nil || n != 0 {
		t.Fatalf("open session exported: %d %v", n, err)
	}
	f.clock.Advance(90 * time.Minute)
	want(t, "out", f.tap(proto.KindParkingExit, "vn_x", "30A-123.45"), proto.ReasonOK)
	if n, err := f.store.Export(ctx, &s, pseudo, 100); err != nil || n != 1 {
		t.Fatalf("exported %d %v", n, err)
	}
	if n, _ := f.store.Export(ctx, &s, pseudo, 100); n != 0 {
		t.Fatalf("exported again: %d", n)
	}
	p := s.got[0]
	if p.RiderKey != pseudo.Key("vn_x") || p.PlateKey == "" || strings.Contains(p.PlateKey, "30A") || p.Fee.IntPart() != 50000 ||
		p.Lot != "hnp-test" || p.OperatorID != "hn-parking" || p.Class != "car" || p.ExitAt.Sub(p.EntryAt) != 90*time.Minute {
		t.Fatalf("exported %+v", p)
	}
}
