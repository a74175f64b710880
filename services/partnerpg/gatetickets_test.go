package partnerpg

import (
	"context"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
)

// A station's gates are pushed the valid tickets leaving from it soon,
// earliest first: not used, not cancelled, not from elsewhere, not outside
// the span asked for; a longer list is cut and says so.
func TestStationTickets(t *testing.T) {
	f := newRail(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	f.bind("vn_a", "T-1", now.Add(2*time.Hour))
	f.bind("vn_b", "T-2", now.Add(30*time.Minute))
	f.bind("vn_c", "T-used", now.Add(10*time.Minute))
	f.bind("vn_d", "T-cancelled", now.Add(40*time.Minute))
	f.bind("vn_e", "T-later", now.Add(9*time.Hour))
	if _, err := f.store.CancelTicket(ctx, "ve-tau", "T-cancelled"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Pool().Exec(ctx, `UPDATE rail_tickets SET origin = 'SGO', destination = 'HNO' WHERE ticket_ref = 'T-1'`); err != nil {
		t.Fatal(err)
	}
	f.bind("vn_a", "T-3", now.Add(3*time.Hour))
	_, b := f.tap("ga-ha-noi-g01", "vn_c", "j-c", time.Now())
	if d, _ := f.send("ga-ha-noi-g01", b); !d.Open {
		t.Fatalf("use of T-used: %+v", d)
	}
	got, more, err := f.store.StationTickets(ctx, "HNO", now.Add(-5*time.Minute), now.Add(6*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || more || got[0].Ref != "T-2" || got[0].Subject != "vn_b" || got[1].Ref != "T-3" {
		t.Fatalf("station tickets %+v (more %v), want T-2 then T-3", got, more)
	}
	got, more, err = f.store.StationTickets(ctx, "HNO", now.Add(-5*time.Minute), now.Add(6*time.Hour), 1)
	if err != nil || len(got) != 1 || !more || got[0].Ref != "T-2" {
		t.Fatalf("cut at 1: %+v, more %v, %v", got, more, err)
	}
}

// A tap a gate opened offline uses the ticket the gate opened on (and
// showed), the earliest in the window or not; once.
func TestOfflineOpeningUsesTheGatesTicket(t *testing.T) {
	f := newRail(t)
	ctx := context.Background()
	now := time.Now()
	f.bind("vn_a", "T-early", now.Add(20*time.Minute))
	f.bind("vn_a", "T-late", now.Add(40*time.Minute))
	var late int64
	f.store.Pool().QueryRow(ctx, `SELECT id FROM rail_tickets WHERE ticket_ref = 'T-late'`).Scan(&late)
	at := now.Add(-time.Minute)
	tp := proto.Tap{V: 1, EventID: proto.NewEventID(at), Device: "ga-ha-noi-g02", Site: "ga-ha-noi", Kind: proto.KindRailGate,
		Assertion: assertion("vn_a", "j-off"), CapturedAt: proto.At(at),
		Offline: &proto.OfflineDecision{Open: true, Reason: proto.ReasonOK, Rule: "ticket", DecidedAt: proto.At(at), TicketsVersion: 3, TicketID: late}}
	b, err := tp.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // and its redelivery
		if d, _ := f.send("ga-ha-noi-g02", b); !d.Open {
			t.Fatalf("offline opening settled as %+v", d)
		}
	}
	var usedRef string
	var uses int
	f.store.Pool().QueryRow(ctx, `SELECT string_agg(ticket_ref, ','), count(*) FROM rail_tickets WHERE status = 'used'`).Scan(&usedRef, &uses)
	if usedRef != "T-late" || uses != 1 {
		t.Errorf("used %q (%d), want T-late once", usedRef, uses)
	}
}
