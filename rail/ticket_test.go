package rail

import (
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
)

func TestDecide(t *testing.T) {
	st := Station{Site: "ga-ha-noi", Code: "HNO", Before: time.Hour, After: 5 * time.Minute}
	dep := time.Date(2026, 11, 24, 12, 30, 0, 0, time.UTC) // 19:30 in Hanoi
	tk := func(id int64, status TicketStatus, origin string, d time.Time) Ticket {
		return Ticket{ID: id, Train: "SE1", Departure: d, Coach: "3", Seat: "12", Origin: origin, Destination: "SGO", Status: status}
	}
	cases := []struct {
		name    string
		tickets []Ticket
		at      time.Time
		want    proto.Reason
		use     int64
	}{
		{"no ticket", nil, dep, proto.ReasonNoTicket, 0},
		{"valid, in the window", []Ticket{tk(1, TicketValid, "HNO", dep)}, dep.Add(-30 * time.Minute), proto.ReasonOK, 1},
		{"first minute of the window", []Ticket{tk(1, TicketValid, "HNO", dep)}, dep.Add(-time.Hour), proto.ReasonOK, 1},
		{"still boarding", []Ticket{tk(1, TicketValid, "HNO", dep)}, dep.Add(5 * time.Minute), proto.ReasonOK, 1},
		{"too early", []Ticket{tk(1, TicketValid, "HNO", dep)}, dep.Add(-61 * time.Minute), proto.ReasonOutsideWindow, 0},
		{"train gone", []Ticket{tk(1, TicketValid, "HNO", dep)}, dep.Add(6 * time.Minute), proto.ReasonNoTicket, 0},
		{"used", []Ticket{tk(1, TicketUsed, "HNO", dep)}, dep, proto.ReasonTicketUsed, 0},
		{"cancelled", []Ticket{tk(1, TicketCancelled, "HNO", dep)}, dep, proto.ReasonNoTicket, 0},
		{"from another station", []Ticket{tk(1, TicketValid, "SGO", dep)}, dep, proto.ReasonNoTicket, 0},
		{"used one and a later valid one", []Ticket{tk(1, TicketUsed, "HNO", dep), tk(2, TicketValid, "HNO", dep.Add(5*time.Hour))}, dep, proto.ReasonTicketUsed, 0},
		{"earliest of two in the window", []Ticket{tk(2, TicketValid, "HNO", dep.Add(30*time.Minute)), tk(1, TicketValid, "HNO", dep)}, dep.Add(-10 * time.Minute), proto.ReasonOK, 1},
	}
	for _, c := range cases {
		r, use := Decide(c.tickets, st, c.at)
		var id int64
		if use != nil {
			id = use.ID
		}
		if r != c.want || id != c.use {
			t.Errorf("%s: %s ticket %d, want %s ticket %d", c.name, r, id, c.want, c.use)
		}
	}
	d := Display(proto.ReasonOK, &Ticket{Train: "SE1", Departure: dep, Coach: "3", Seat: "12"})
	if d.VI != "Mời qua · Tàu SE1 19:30 · Toa 3 ghế 12" || d.EN != "Please pass · Train SE1 19:30 · Coach 3 seat 12" {
		t.Errorf("display %+v", d)
	}
}

// A tap a gate opened offline uses the ticket the gate opened on (and
// showed), if it was valid for then; otherwise the one Decide picks.
func TestDecideOffline(t *testing.T) {
	st := Station{Site: "ga-ha-noi", Code: "HNO", Before: time.Hour, After: 5 * time.Minute}
	dep := time.Date(2026, 11, 24, 12, 30, 0, 0, time.UTC)
	early := Ticket{ID: 1, Train: "SE1", Departure: dep, Origin: "HNO", Status: TicketValid}
	late := Ticket{ID: 2, Train: "SE3", Departure: dep.Add(20 * time.Minute), Origin: "HNO", Status: TicketValid}
	at := dep.Add(-10 * time.Minute)
	for _, c := range []struct {
		name    string
		tickets []Ticket
		id      int64
		want    proto.Reason
		use     int64
	}{
		{"the gate's ticket, not the earliest", []Ticket{early, late}, 2, proto.ReasonOK, 2},
		{"no ticket named", []Ticket{early, late}, 0, proto.ReasonOK, 1},
		{"the gate's ticket was used since", []Ticket{early, {ID: 2, Departure: late.Departure, Origin: "HNO", Status: TicketUsed}}, 2, proto.ReasonOK, 1},
		{"the gate's ticket is unknown", []Ticket{early}, 9, proto.ReasonOK, 1},
		{"none left", []Ticket{{ID: 1, Departure: dep, Origin: "HNO", Status: TicketUsed}}, 1, proto.ReasonTicketUsed, 0},
	} {
		r, use := DecideOffline(c.tickets, st, at, c.id)
		var id int64
		if use != nil {
			id = use.ID
		}
		if r != c.want || id != c.use {
			t.Errorf("%s: %s ticket %d, want %s ticket %d", c.name, r, id, c.want, c.use)
		}
	}
}

func TestTicketCheck(t *testing.T) {
	ok := Ticket{Ref: "VNR-123", Train: "SE1", Departure: time.Now(), Coach: "3", Seat: "12", Origin: "HNO", Destination: "SGO"}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.Destination = "HNO"
	if bad.Check() == nil {
		t.Error("same origin and destination accepted")
	}
	bad = ok
	bad.Ref = "a/b"
	if bad.Check() == nil {
		t.Error("ticket id with / accepted")
	}
}
