package rail

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/vnpass/vnpass/proto"
)

// TicketStatus is where a ticket is in its life.
type TicketStatus string

const (
	TicketValid     TicketStatus = "valid"
	TicketUsed      TicketStatus = "used"      // a gate admitted its holder; final
	TicketCancelled TicketStatus = "cancelled" // by its issuer, before use; final
)

// Ticket is a national-rail ticket as an entitlement: bound to a rider's
// pseudonymous subject by the partner that sold it, it opens a gate at its
// origin station once, around its departure.
type Ticket struct {
	ID          int64  // the platform's id
	Partner     string // the issuer
	Ref         string // the issuer's ticket id, unique per issuer
	Subject     string
	Train       string // e.g. "SE1"
	Departure   time.Time
	Coach, Seat string
	Origin      string // station codes, e.g. "HNO"
	Destination string
	Status      TicketStatus
	UsedAt      time.Time
	UsedSite    string
}

// Errors of ticket data and of changes to tickets.
var (
	ErrInvalidTicket = errors.New("rail: invalid ticket")
	// ErrTicketUsed: a used ticket can no longer be changed or cancelled.
	ErrTicketUsed = errors.New("rail: ticket already used")
	// ErrTicketCancelled: a cancelled ticket can no longer be changed.
	ErrTicketCancelled = errors.New("rail: ticket cancelled")
)

var (
	refRE   = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	trainRE = regexp.MustCompile(`^[A-Z0-9]{1,8}$`)
	placeRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,8}$`)
)

// Check validates the ticket's data (not its status).
func (t Ticket) Check() error {
	switch {
	case !refRE.MatchString(t.Ref):
		return fmt.Errorf("%w: ticket id must be 1-64 letters, digits or . _ : -", ErrInvalidTicket)
	case !trainRE.MatchString(t.Train):
		return fmt.Errorf("%w: train must be 1-8 upper-case letters or digits", ErrInvalidTicket)
	case t.Departure.IsZero():
		return fmt.Errorf("%w: departure is required", ErrInvalidTicket)
	case !placeRE.MatchString(t.Coach) || !placeRE.MatchString(t.Seat):
		return fmt.Errorf("%w: coach and seat must be 1-8 letters, digits or -", ErrInvalidTicket)
	case !validCode(t.Origin) || !validCode(t.Destination) || t.Origin == t.Destination:
		return fmt.Errorf("%w: origin and destination must be two different station codes", ErrInvalidTicket)
	}
	return nil
}

// Decide judges a rider at a gate of station at instant now, from the
// rider's tickets (any status, any station). It returns the reason and,
// when the gate opens, the ticket to mark used.
//
// A valid ticket from this station whose departure window holds now opens
// the gate (the earliest departure first). Otherwise the refusal says what
// the rider can act on: a ticket for this window already used
// (ticket_used), a valid ticket for another time (outside_window), or no
// ticket at all (no_ticket).
func Decide(tickets []Ticket, st Station, now time.Time) (proto.Reason, *Ticket) {
	var here []Ticket
	for _, t := range tickets {
		if t.Origin == st.Code && t.Status != TicketCancelled {
			here = append(here, t)
		}
	}
	sort.Slice(here, func(i, j int) bool { return here[i].Departure.Before(here[j].Departure) })
	in := func(t Ticket) bool {
		return !now.Before(t.Departure.Add(-st.Before)) && !now.After(t.Departure.Add(st.After))
	}
	usedNow, validOther, usedAny := false, false, false
	for i, t := range here {
		switch {
		case t.Status == TicketValid && in(t):
			return proto.ReasonOK, &here[i]
		case t.Status == TicketUsed && in(t):
			usedNow = true
		case t.Status == TicketValid && !now.After(t.Departure.Add(st.After)):
			validOther = true
		case t.Status == TicketUsed:
			usedAny = true
		}
	}
	switch {
	case usedNow:
		return proto.ReasonTicketUsed, nil
	case validOther:
		return proto.ReasonOutsideWindow, nil
	case usedAny:
		return proto.ReasonTicketUsed, nil
	}
	return proto.ReasonNoTicket, nil
}

// DecideOffline judges a tap a gate opened offline, at its capture time
// at: the ticket the gate opened on (ticketID, proto.OfflineDecision.TicketID)
// when it is still valid, from this station, in its window then, so that
// the ticket used is the one whose train and seat the gate showed;
// otherwise as Decide at at (a gate that named no ticket, or whose list was
// older than a change of the ticket).
func DecideOffline(tickets []Ticket, st Station, at time.Time, ticketID int64) (proto.Reason, *Ticket) {
	if ticketID != 0 {
		for i, t := range tickets {
			if t.ID == ticketID && t.Status == TicketValid && t.Origin == st.Code &&
				!at.Before(t.Departure.Add(-st.Before)) && !at.After(t.Departure.Add(st.After)) {
				return proto.ReasonOK, &tickets[i]
			}
		}
	}
	return Decide(tickets, st, at)
}

// Display is the gate text for a decision: on opening, the train, coach
// and seat, so the rider knows where to go.
func Display(reason proto.Reason, t *Ticket) proto.Display {
	if reason != proto.ReasonOK || t == nil {
		return reason.Display()
	}
	loc := t.Departure.In(zone)
	return proto.Display{
		VI: fmt.Sprintf("Mời qua · Tàu %s %s · Toa %s ghế %s", t.Train, loc.Format("15:04"), t.Coach, t.Seat),
		EN: fmt.Sprintf("Please pass · Train %s %s · Coach %s seat %s", t.Train, loc.Format("15:04"), t.Coach, t.Seat),
	}
}

// zone is the local time of departures shown on gates.
var zone = time.FixedZone("ICT", 7*3600)
