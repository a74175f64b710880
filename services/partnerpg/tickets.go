package partnerpg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/rail"
)

const ticketCols = `id, partner_id, ticket_ref, subject, train, departure, coach, seat, origin, destination, status, used_at, coalesce(used_site, '')`

func scanTicket(r pgx.Row) (rail.Ticket, error) {
	var t rail.Ticket
	var status string
	var usedAt *time.Time
	if err := r.Scan(&t.ID, &t.Partner, &t.Ref, &t.Subject, &t.Train, &t.Departure, &t.Coach, &t.Seat, &t.Origin, &t.Destination, &status, &usedAt, &t.UsedSite); err != nil {
		return rail.Ticket{}, err
	}
	t.Status = rail.TicketStatus(status)
	if usedAt != nil {
		t.UsedAt = *usedAt
	}
	return t, nil
}

// BindTicket binds a ticket the partner sold to the rider behind riderRef,
// or changes it (train, departure, seat, holder) while it is not used or
// cancelled. The rider's consent to the partner for tickets must be in
// force: partner.ErrNoConsent otherwise, whatever the reason (no consent,
// withdrawn, expired, unknown handle), so a partner learns nothing from it.
func (s *Store) BindTicket(ctx context.Context, partnerID, riderRef string, t rail.Ticket) (rail.Ticket, bool, error) {
	if err := t.Check(); err != nil {
		return rail.Ticket{}, false, fmt.Errorf("%w: %v", partner.ErrInvalid, err)
	}
	now := s.cfg.Now()
	var out rail.Ticket
	created := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := consentByRef(ctx, tx, partnerID, riderRef, true)
		if errors.Is(err, partner.ErrNotFound) || (err == nil && !c.Allows(partner.ScopeTickets, now)) {
			return partner.ErrNoConsent
		}
		if err != nil {
			return err
		}
		old, err := scanTicket(tx.QueryRow(ctx, `SELECT `+ticketCols+` FROM rail_tickets WHERE partner_id = $1 AND ticket_ref = $2 FOR UPDATE`, partnerID, t.Ref))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			created = true
			out, err = scanTicket(tx.QueryRow(ctx, `INSERT INTO rail_tickets (partner_id, ticket_ref, subject, train, departure, coach, seat, origin, destination, status, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'valid', $10, $10) RETURNING `+ticketCols,
				partnerID, t.Ref, c.Subject, t.Train, t.Departure, t.Coach, t.Seat, t.Origin, t.Destination, now))
			return err
		case err != nil:
			return err
		case old.Status == rail.TicketUsed:
			return rail.ErrTicketUsed
		case old.Status == rail.TicketCancelled:
			return rail.ErrTicketCancelled
		}
		out, err = scanTicket(tx.QueryRow(ctx, `UPDATE rail_tickets SET subject = $2, train = $3, departure = $4, coach = $5, seat = $6,
			origin = $7, destination = $8, version = version + 1, updated_at = $9 WHERE id = $1 RETURNING `+ticketCols,
			old.ID, c.Subject, t.Train, t.Departure, t.Coach, t.Seat, t.Origin, t.Destination, now))
		return err
	})
	if err != nil {
		return rail.Ticket{}, false, wrap("bind ticket", err)
	}
	return out, created, nil
}

// Ticket returns one of the partner's tickets with the consent of its
// holder; partner.ErrNotFound for a ticket the partner did not bind
// (another partner's id is just as unknown).
func (s *Store) Ticket(ctx context.Context, partnerID, ref string) (rail.Ticket, partner.Consent, error) {
	t, err := scanTicket(s.pool.QueryRow(ctx, `SELECT `+ticketCols+` FROM rail_tickets WHERE partner_id = $1 AND ticket_ref = $2`, partnerID, ref))
	if errors.Is(err, pgx.ErrNoRows) {
		return rail.Ticket{}, partner.Consent{}, partner.ErrNotFound
	}
	if err != nil {
		return rail.Ticket{}, partner.Consent{}, fmt.Errorf("partnerpg: ticket: %w", err)
	}
	c, err := consentOf(ctx, s.pool, partnerID, t.Subject)
	if err != nil && !errors.Is(err, partner.ErrNotFound) {
		return rail.Ticket{}, partner.Consent{}, fmt.Errorf("partnerpg: ticket: %w", err)
	}
	return t, c, nil
}

// CancelTicket cancels one of the partner's tickets that is not used.
// Cancelling is the issuer's own business (a refund at its counter): it
// needs no consent in force, and tells nothing about the rider.
func (s *Store) CancelTicket(ctx context.Context, partnerID, ref string) (rail.Ticket, error) {
	var out rail.Ticket
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanTicket(tx.QueryRow(ctx, `SELECT `+ticketCols+` FROM rail_tickets WHERE partner_id = $1 AND ticket_ref = $2 FOR UPDATE`, partnerID, ref))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return partner.ErrNotFound
		case err != nil:
			return err
		case old.Status == rail.TicketUsed:
			return rail.ErrTicketUsed
		case old.Status == rail.TicketCancelled:
			out = old
			return nil
		}
		out, err = scanTicket(tx.QueryRow(ctx, `UPDATE rail_tickets SET status = 'cancelled', version = version + 1, updated_at = $2
			WHERE id = $1 RETURNING `+ticketCols, old.ID, s.cfg.Now()))
		return err
	})
	if err != nil {
		return rail.Ticket{}, wrap("cancel ticket", err)
	}
	return out, nil
}

func wrap(what string, err error) error {
	for _, e := range []error{partner.ErrNoConsent, partner.ErrNotFound, partner.ErrInvalid, partner.ErrConflict, rail.ErrTicketUsed, rail.ErrTicketCancelled} {
		if errors.Is(err, e) {
			return err
		}
	}
	return fmt.Errorf("partnerpg: %s: %w", what, err)
}

// AdmitRail records a rail tap once (rail.Store).
func (s *Store) AdmitRail(ctx context.Context, rec rail.Record, decide func([]rail.Ticket, bool) (rail.Outcome, error)) ([]byte, bool, error) {
	var out []byte
	var dup bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out, dup = nil, false
		err := tx.QueryRow(ctx, `SELECT decision FROM rail_taps WHERE event_id = $1`, rec.Tap.EventID).Scan(&out)
		if err == nil {
			dup = true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		replayed := false
		if rec.JTI != "" {
			ok, err := s.cfg.ClaimJTI(ctx, tx, rec.JTI, rec.Tap.EventID, rec.ExpiresAt)
			if err != nil {
				return err
			}
			replayed = !ok
		}
		var tickets []rail.Ticket
		if rec.Subject != "" && !replayed {
			// Tickets around now (a day either side covers every window),
			// locked: two gates passing one ticket at once use it once.
			at := rec.Tap.CapturedAt.Time
			rows, err := tx.Query(ctx, `SELECT `+ticketCols+` FROM rail_tickets
				WHERE subject = $1 AND departure BETWEEN $2 AND $3 ORDER BY id FOR UPDATE`,
				rec.Subject, at.Add(-24*time.Hour), at.Add(24*time.Hour))
			if err != nil {
				return err
			}
			for rows.Next() {
				t, err := scanTicket(rows)
				if err != nil {
					rows.Close()
					return err
				}
				tickets = append(tickets, t)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		o, err := decide(tickets, replayed)
		if err != nil {
			return err
		}
		var ticketID *int64
		if o.Use != nil {
			ticketID = &o.Use.ID
			if err := s.useTicket(ctx, tx, *o.Use, rec); err != nil {
				return err
			}
		}
		var subject *string
		if rec.Subject != "" {
			subject = &rec.Subject
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rail_taps (event_id, device, site, subject, captured_at, received_at, reason, ticket_id, offline, decision)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			rec.Tap.EventID, rec.Tap.Device, rec.Tap.Site, subject, rec.Tap.CapturedAt.Time, rec.ReceivedAt,
			string(o.Reason), ticketID, rec.Tap.Offline != nil, o.Decision); err != nil {
			return err
		}
		out = o.Decision
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("partnerpg: rail tap: %w", err)
	}
	return out, dup, nil
}

// TicketUsed is the data of the rail.ticket.used webhook.
type TicketUsed struct {
	TicketID  string `json:"ticket_id"`
	RiderRef  string `json:"rider_ref"`
	Train     string `json:"train"`
	Departure string `json:"departure"`
	Station   string `json:"station"`
	Gate      string `json:"gate"`
	UsedAt    string `json:"used_at"`
}

// useTicket marks the ticket used by the tap and, when its issuer has a
// webhook and the rider's consent for tickets is in force, enqueues the
// event for it in the same transaction.
func (s *Store) useTicket(ctx context.Context, tx pgx.Tx, t rail.Ticket, rec rail.Record) error {
	at := rec.Tap.CapturedAt.Time
	tag, err := tx.Exec(ctx, `UPDATE rail_tickets SET status = 'used', used_at = $2, used_event = $3, used_site = $4, updated_at = $5
		WHERE id = $1 AND status = 'valid'`, t.ID, at, rec.Tap.EventID, rec.Tap.Site, s.cfg.Now())
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("ticket %d is no longer valid", t.ID)
	}
	var url string
	if err := tx.QueryRow(ctx, `SELECT webhook_url FROM partners WHERE id = $1`, t.Partner).Scan(&url); err != nil {
		return err
	}
	c, err := consentOf(ctx, tx, t.Partner, t.Subject)
	if url == "" || errors.Is(err, partner.ErrNotFound) || (err == nil && !c.Allows(partner.ScopeTickets, s.cfg.Now())) {
		return nil
	}
	if err != nil {
		return err
	}
	data, err := json.Marshal(TicketUsed{
		TicketID: t.Ref, RiderRef: c.RiderRef, Train: t.Train, Departure: t.Departure.UTC().Format(time.RFC3339),
		Station: t.Origin, Gate: rec.Tap.Device, UsedAt: proto.At(at).Format(time.RFC3339Nano),
	})
	if err != nil {
		return err
	}
	return s.enqueue(ctx, tx, t.Partner, "rail.ticket.used", "rail.ticket.used:"+rec.Tap.EventID, data)
}
