package agent

import (
	"fmt"
	"sort"
	"time"

	"github.com/vnpass/vnpass/proto"
)

// Offline decisions of a rail gate (kind rail_gate, Hanoi Station).
//
// A rail gate admits on a train ticket, not on an account: no deny list,
// pass-back or daily limit applies, but the rider must hold a ticket. The
// fleet service pushes the station's tickets valid soon (proto.TicketList)
// in the gate's config; deciding offline, after no_keys and assertion, the
// gate checks in order:
//
//	tickets_stale   no list, or it does not cover the boarding windows open
//	                at the capture time (departures from AdmitAfterS ago to
//	                AdmitBeforeS ahead): refused (offline_unavailable)
//	ticket          a ticket of the rider whose window holds the capture
//	                time, not used at this gate: opens, showing train, coach
//	                and seat; the use is recorded (entries.log, synced)
//	ticket_used     the rider's ticket for now was used at this gate:
//	                refused (ticket_used)
//	outside_window  a ticket of the rider for a later train (or the window
//	                not yet passed): refused (outside_window)
//	no_ticket       no ticket of the rider in the list: refused (no_ticket)
//
// as rail.Decide judges online. The gate knows only its own uses: a ticket
// used at another gate of the station while both were offline opens both;
// the cloud records the ticket used once (by the first tap to reach it) and
// the second tap as what it was, an opening on a used ticket.

// indexTickets groups a list by rider, earliest departure first.
func indexTickets(l *proto.TicketList) map[string][]proto.GateTicket {
	by := make(map[string][]proto.GateTicket)
	for _, t := range l.Tickets {
		by[t.Subject] = append(by[t.Subject], t)
	}
	for _, ts := range by {
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].Departure.Before(ts[j].Departure.Time) })
	}
	return by
}

// covers reports whether l holds every ticket whose boarding window holds at.
func covers(l *proto.TicketList, at time.Time) bool {
	before := time.Duration(l.AdmitBeforeS) * time.Second
	after := time.Duration(l.AdmitAfterS) * time.Second
	return !at.Add(-after).Before(l.From.Time) && !at.Add(before).After(l.Until.Time)
}

// inWindow reports whether t opens the gate at at.
func inWindow(l *proto.TicketList, t proto.GateTicket, at time.Time) bool {
	before := time.Duration(l.AdmitBeforeS) * time.Second
	after := time.Duration(l.AdmitAfterS) * time.Second
	return !at.Before(t.Departure.Add(-before)) && !at.After(t.Departure.Add(after))
}

// judgeRail decides a verified rider at a rail gate offline, from the
// rider's tickets in list (mine). offlineMu is held.
func (a *Agent) judgeRail(d proto.OfflineDecision, list *proto.TicketList, mine []proto.GateTicket, sub string, at time.Time) (proto.OfflineDecision, string, *proto.GateTicket) {
	refuse := func(r proto.Reason, rule string) (proto.OfflineDecision, string, *proto.GateTicket) {
		d.Open, d.Reason, d.Rule = false, r, rule
		return d, sub, nil
	}
	if list == nil || !covers(list, at) {
		return refuse(proto.ReasonOfflineUnavailable, "tickets_stale")
	}
	usedNow, later, usedAny := false, false, false
	for i, t := range mine {
		used := a.st.entries.ticketUsed(sub, t.ID)
		switch {
		case inWindow(list, t, at) && !used:
			d.Rule, d.TicketID = "ticket", t.ID
			return d, sub, &mine[i]
		case inWindow(list, t, at):
			usedNow = true
		case !used && !at.After(t.Departure.Add(time.Duration(list.AdmitAfterS)*time.Second)):
			later = true
		case used:
			usedAny = true
		}
	}
	switch {
	case usedNow:
		return refuse(proto.ReasonTicketUsed, "ticket_used")
	case later:
		return refuse(proto.ReasonOutsideWindow, "outside_window")
	case usedAny:
		return refuse(proto.ReasonTicketUsed, "ticket_used")
	}
	return refuse(proto.ReasonNoTicket, "no_ticket")
}

// ticketNow is the ticket of sub a rail gate opened on at at, as far as
// its list says: the earliest whose window holds at and not yet used here;
// 0 if none. For an opening the cloud decided, recorded so that the gate,
// offline later, does not open on the same ticket again.
func (a *Agent) ticketNow(sub string, at time.Time) int64 {
	a.configMu.Lock()
	list, mine := a.st.tickets, a.st.ticketsBy[sub]
	a.configMu.Unlock()
	if list == nil {
		return 0
	}
	for _, t := range mine {
		if inWindow(list, t, at) && !a.st.entries.ticketUsed(sub, t.ID) {
			return t.ID
		}
	}
	return 0
}

// railOfflineDisplay is what a rail gate shows when it opens offline: where
// to go, as online (rail.Display), and that the gate is offline.
func railOfflineDisplay(t proto.GateTicket) proto.Display {
	loc := t.Departure.In(vnZone).Format("15:04")
	return proto.Display{
		VI: fmt.Sprintf("Mời qua (ngoại tuyến) · Tàu %s %s · Toa %s ghế %s", t.Train, loc, t.Coach, t.Seat),
		EN: fmt.Sprintf("Please pass (offline) · Train %s %s · Coach %s seat %s", t.Train, loc, t.Coach, t.Seat),
	}
}
