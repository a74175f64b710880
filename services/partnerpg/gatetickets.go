package partnerpg

import (
	"context"
	"fmt"
	"time"

	"github.com/vnpass/vnpass/rail"
)

// StationTickets returns the tickets a station's gates may admit soon: bound
// to a rider, neither used nor cancelled, leaving from origin (a station
// code) with a departure in [from, until], earliest first, at most limit
// (more reports that the list was cut there). The fleet service pushes them
// to the station's rail gates for their offline decisions
// (proto.TicketList); the gates' decisions online stay the store's
// (AdmitRail).
func (s *Store) StationTickets(ctx context.Context, origin string, from, until time.Time, limit int) (tickets []rail.Ticket, more bool, err error) {
	if limit <= 0 {
		return nil, false, fmt.Errorf("partnerpg: station tickets: limit %d", limit)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+ticketCols+` FROM rail_tickets
		WHERE origin = $1 AND status = 'valid' AND departure BETWEEN $2 AND $3
		ORDER BY departure, id LIMIT $4`, origin, from, until, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("partnerpg: station tickets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, false, fmt.Errorf("partnerpg: station tickets: %w", err)
		}
		tickets = append(tickets, t)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("partnerpg: station tickets: %w", err)
	}
	if len(tickets) > limit {
		return tickets[:limit], true, nil
	}
	return tickets, false, nil
}
