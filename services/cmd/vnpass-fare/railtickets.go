package main

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/rail"
	"github.com/vnpass/vnpass/services/authjwt"
)

// railRoutes serves the tickets a station's rail gates may admit soon:
//
//	GET /v1/rail/tickets?station=ga-ha-noi|HNO[&hours=6] (admins, operators)
//
// The fleet service fetches it for each rail station and pushes it to the
// station's gates (proto.Config.Tickets) for their offline decisions:
// valid tickets (bound, neither used nor cancelled) leaving from the
// station with a departure from the station's boarding window ago (a train
// still boarding) to hours ahead (1-24), earliest first, at most
// proto.MaxTickets. A longer list is cut at a departure, and until says up
// to where it is whole.
func (m *Main) railRoutes() func(fiber.Router) {
	return func(v1 fiber.Router) {
		v1.Get("/rail/tickets", m.railTickets)
	}
}

// railTicketsAnswer is the answer of GET /v1/rail/tickets: a
// proto.TicketList without a version (the fleet service versions what it
// pushes), with the station's site id and whether the list was cut.
type railTicketsAnswer struct {
	Station      string             `json:"station"`
	Site         string             `json:"site"`
	IssuedAt     proto.Time         `json:"issued_at"`
	From         proto.Time         `json:"from"`
	Until        proto.Time         `json:"until"`
	AdmitBeforeS int                `json:"admit_before_s"`
	AdmitAfterS  int                `json:"admit_after_s"`
	Truncated    bool               `json:"truncated"`
	Count        int                `json:"count"`
	Tickets      []proto.GateTicket `json:"tickets"`
}

func (m *Main) railTickets(c *fiber.Ctx) error {
	if cl := authjwt.Caller(c); cl.Role != authjwt.RoleAdmin && cl.Role != authjwt.RoleOperator && cl.Role != authjwt.RoleService {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only staff and the fleet service may read the tickets of a station.")
	}
	p := m.Partners
	if p == nil || p.Store == nil || p.Rail == nil {
		return authjwt.Problem(c, fiber.StatusServiceUnavailable, "unavailable", "Rail gates are not served here.")
	}
	q := c.Query("station")
	st, ok := p.Rail.StationAt(q)
	if !ok {
		st, ok = p.Rail.Station(q)
	}
	if !ok {
		return authjwt.Problem(c, fiber.StatusNotFound, "unknown-station", "No rail station with site id or code "+strconv.Quote(q)+".")
	}
	hours := 6
	if h := c.Query("hours"); h != "" {
		v, err := strconv.Atoi(h)
		if err != nil || v < 1 || v > 24 {
			return authjwt.Problem(c, fiber.StatusBadRequest, "invalid", "hours: want whole hours from 1 to 24.")
		}
		hours = v
	}
	now := proto.At(m.Config.Now())
	from, until := proto.At(now.Add(-st.After)), proto.At(now.Add(time.Duration(hours)*time.Hour))
	tickets, more, err := p.Store.StationTickets(c.UserContext(), st.Code, from.Time, until.Time, proto.MaxTickets+1)
	if err != nil {
		return err
	}
	if more || len(tickets) > proto.MaxTickets {
		// Cut before the first departure that does not fit whole: the
		// list is complete up to until.
		cut := tickets[min(len(tickets), proto.MaxTickets)].Departure
		until = proto.At(cut.Add(-time.Millisecond))
		if until.Before(from.Time) {
			until = from
		}
		n := 0
		for n < len(tickets) && n < proto.MaxTickets && tickets[n].Departure.Before(cut) {
			n++
		}
		tickets, more = tickets[:n], true
	}
	out := railTicketsAnswer{
		Station: st.Code, Site: st.Site, IssuedAt: now, From: from, Until: until,
		AdmitBeforeS: int(st.Before / time.Second), AdmitAfterS: int(st.After / time.Second),
		Truncated: more, Count: len(tickets), Tickets: make([]proto.GateTicket, len(tickets)),
	}
	for i, t := range tickets {
		out.Tickets[i] = gateTicket(t)
	}
	return c.JSON(out)
}

func gateTicket(t rail.Ticket) proto.GateTicket {
	return proto.GateTicket{ID: t.ID, Subject: t.Subject, Train: t.Train, Departure: proto.At(t.Departure), Coach: t.Coach, Seat: t.Seat}
}
