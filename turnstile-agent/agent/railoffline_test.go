package agent

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
)

func newRailRig(t *testing.T, dir string) *offlineRig {
	clk := &clock{t: time.Date(2026, 11, 24, 7, 0, 0, 0, vnZone)}
	r := &offlineRig{t: t, clk: clk, cfg: Config{
		Device: "ga-ha-noi-g03", Site: "ga-ha-noi", Kind: proto.KindRailGate,
		Matcher: faceMatcher{clk.Now}, Gate: &recGate{}, Now: clk.Now, Dir: dir, Verifier: faceVerifier{keys: true},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
	r.start()
	return r
}

// pushTickets applies a config carrying a ticket list issued now, covering
// departures over the next 6 hours, Hanoi Station's window (60 minutes
// before, 5 after).
func (r *offlineRig) pushTickets(version, listVersion int64, deny *proto.DenyList, tickets ...proto.GateTicket) {
	r.t.Helper()
	now := r.clk.Now()
	b, err := proto.Config{Version: version, Device: r.cfg.Device, Site: r.cfg.Site, Kind: r.cfg.Kind,
		DecisionTimeoutMS: 2000, IssuedAt: proto.At(now), DenyList: deny,
		Tickets: &proto.TicketList{Version: listVersion, IssuedAt: proto.At(now), Station: "HNO",
			From: proto.At(now.Add(-5 * time.Minute)), Until: proto.At(now.Add(6 * time.Hour)),
			AdmitBeforeS: 3600, AdmitAfterS: 300, Tickets: tickets}}.Encode()
	if err != nil {
		r.t.Fatal(err)
	}
	r.a.onConfig(b)
}

func ticket(id int64, face, train string, dep time.Time) proto.GateTicket {
	return proto.GateTicket{ID: id, Subject: "vn_" + face, Train: train, Departure: proto.At(dep), Coach: "5", Seat: "21"}
}

// A rail gate deciding offline opens only for a rider holding a ticket
// from the pushed list whose boarding window holds the capture time, once
// per ticket; it says why it refuses; the uses it recorded survive a
// restart; a list that does not cover now is stale.
func TestOfflineRailTickets(t *testing.T) {
	dir := t.TempDir()
	r := newRailRig(t, dir)
	now := r.clk.Now()

	// No list yet: the gate cannot tell who holds a ticket.
	r.want("a", false, proto.ReasonOfflineUnavailable, "tickets_stale")

	// The deny list plays no part at a rail gate: "d" is on it and passes.
	deny := &proto.DenyList{Version: 4, IssuedAt: proto.At(now.Add(-48 * time.Hour)), Subjects: []string{"vn_d"}}
	r.pushTickets(1, 10, deny,
		ticket(101, "a", "SE1", now.Add(30*time.Minute)),
		ticket(102, "b", "SE3", now.Add(3*time.Hour)),
		ticket(103, "d", "SE1", now.Add(30*time.Minute)),
		ticket(104, "e", "SE1", now.Add(30*time.Minute)),
		ticket(105, "e", "SE5", now.Add(50*time.Minute)),
	)
	tp := r.wantPlate("a", "", true, proto.ReasonOK, "ticket")
	if tp.Offline.TicketID != 101 || tp.Offline.TicketsVersion != 10 || tp.Offline.DenyListVersion != 4 {
		t.Errorf("offline decision %+v, want ticket 101, list 10, deny list 4", tp.Offline)
	}
	local := now.Add(30 * time.Minute).In(vnZone).Format("15:04")
	if g := r.cfg.Gate.(*recGate); g.last.VI != "Mời qua (ngoại tuyến) · Tàu SE1 "+local+" · Toa 5 ghế 21" ||
		!strings.HasPrefix(g.last.EN, "Please pass (offline) · Train SE1") {
		t.Errorf("gate shows %+v", g.last)
	}
	r.want("a", false, proto.ReasonTicketUsed, "ticket_used")
	r.want("b", false, proto.ReasonOutsideWindow, "outside_window")
	r.want("c", false, proto.ReasonNoTicket, "no_ticket")
	r.want("forged-a", false, proto.ReasonAssertionInvalid, "assertion")
	r.want("d", true, proto.ReasonOK, "ticket")
	// Two tickets in the window (a rider travelling with a companion's
	// ticket bound to them): each opens once.
	if tp := r.wantPlate("e", "", true, proto.ReasonOK, "ticket"); tp.Offline.TicketID != 104 {
		t.Errorf("first ticket of e: %d, want the earliest, 104", tp.Offline.TicketID)
	}
	if tp := r.wantPlate("e", "", true, proto.ReasonOK, "ticket"); tp.Offline.TicketID != 105 {
		t.Errorf("second ticket of e: %d, want 105", tp.Offline.TicketID)
	}
	r.want("e", false, proto.ReasonTicketUsed, "ticket_used")

	// A restart keeps the list and the uses (entries.log, synced).
	r.a.Close()
	r.start()
	r.want("a", false, proto.ReasonTicketUsed, "ticket_used")
	r.a.configMu.Lock()
	v := r.a.st.tickets.Version
	r.a.configMu.Unlock()
	if v != 10 {
		t.Errorf("after restart: ticket list %d in force, want 10", v)
	}
	// An older list does not replace a newer one; a newer config without
	// one keeps it.
	r.pushTickets(2, 9, nil)
	r.push(3, DefaultOfflinePolicy, nil)
	r.clk.Add(2*time.Hour + 30*time.Minute) // SE3 boards
	r.want("b", true, proto.ReasonOK, "ticket")
	r.want("a", false, proto.ReasonTicketUsed, "ticket_used") // SE1 left: only its use remains

	// Departures past the list's end may board: it no longer covers now.
	r.clk.Add(3 * time.Hour)
	r.want("b", false, proto.ReasonOfflineUnavailable, "tickets_stale")
	if s := r.a.Stats(); s.OfflineOpened != 1 || s.OfflineRefused != 3 || s.QueueDepth != 14 {
		t.Errorf("stats since the restart %+v, want 1 opened and 3 refused offline, 14 taps queued", s)
	}
}

// An opening the cloud decided (online) uses the ticket the list says, so
// the gate, offline later, does not open on it again.
func TestRailOnlineOpeningRecordsTicket(t *testing.T) {
	r := newRailRig(t, t.TempDir())
	now := r.clk.Now()
	r.pushTickets(1, 1, nil, ticket(7, "a", "SE1", now.Add(20*time.Minute)), ticket(8, "a", "SE7", now.Add(5*time.Hour)))
	if id := r.a.ticketNow("vn_a", now); id != 7 {
		t.Fatalf("ticket for now: %d, want 7", id)
	}
	if err := r.a.st.entries.add("vn_a", now, false, 7); err != nil {
		t.Fatal(err)
	}
	if id := r.a.ticketNow("vn_a", now); id != 0 {
		t.Fatalf("ticket for now after its use: %d, want none", id)
	}
	r.want("a", false, proto.ReasonTicketUsed, "ticket_used")
}
