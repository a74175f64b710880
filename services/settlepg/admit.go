package settlepg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/proto"
)

var _ admission.Store = (*Store)(nil)

// Admit records one tap exactly once; see admission.Store.
func (s *Store) Admit(ctx context.Context, rec admission.Record, decide func(*admission.Rider) (admission.Effect, error)) ([]byte, bool, error) {
	var payload []byte
	var dup bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		payload, dup = nil, false
		err := tx.QueryRow(ctx, "SELECT decision FROM taps WHERE event_id = $1", rec.Tap.EventID).Scan(&payload)
		if err == nil {
			dup = true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		r := &admission.Rider{Subject: rec.Subject}
		if rec.JTI != "" {
			claimed, err := claimJTI(ctx, tx, rec)
			if err != nil {
				return err
			}
			r.Replayed = !claimed
		}
		if rec.Subject != "" && !r.Replayed {
			if err := loadRider(ctx, tx, r); err != nil {
				return err
			}
			// Passes that may cover a journey entered up to two days ago,
			// read only when a journey may be priced by this tap (an exit,
			// or an entry that finds a journey still open): an entry
			// otherwise costs nothing, and the tap path one query less.
			if rec.Tap.Kind != proto.KindMetroEntry || r.Open != nil {
				if err := loadPasses(ctx, tx, r, rec.ReceivedAt.Add(-48*time.Hour)); err != nil {
					return err
				}
			}
		}
		eff, err := decide(r)
		if err != nil {
			return err
		}
		if err := s.apply(ctx, tx, eff); err != nil {
			return err
		}
		payload, err = eff.Decision.Encode()
		if err != nil {
			return err
		}
		return insertTap(ctx, tx, rec, eff, payload)
	})
	if err != nil {
		return nil, false, fmt.Errorf("settlepg: admit %s: %w", rec.Tap.EventID, err)
	}
	return payload, dup, nil
}

func claimJTI(ctx context.Context, tx pgx.Tx, rec admission.Record) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO assertion_uses (jti, event_id, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (jti) DO NOTHING`, rec.JTI, rec.Tap.EventID, rec.ExpiresAt)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

func loadRider(ctx context.Context, tx pgx.Tx, r *admission.Rider) error {
	r.Spent = func(network string, from, to time.Time) (decimal.Decimal, error) {
		var sum decimal.Decimal
		err := tx.QueryRow(ctx, `SELECT coalesce(sum(fare), 0) FROM journeys
			WHERE subject = $1 AND network_id = $2 AND status = 'closed' AND entry_at >= $3 AND entry_at < $4`,
			r.Subject, network, from, to).Scan(&sum)
		return sum, err
	}
	var status string
	err := tx.QueryRow(ctx, "SELECT status, balance FROM accounts WHERE id = $1 FOR UPDATE",
		string(ledger.Rider(r.Subject))).Scan(&status, &r.Balance)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	r.Exists, r.Status = true, admission.AccountStatus(status)
	// The two newest journeys: the open one, if any, and the last finished
	// one (a transfer continues it; a rider may be trying its exit again).
	rows, err := tx.Query(ctx, `SELECT id, network_id, operator_id, entry_event::text, entry_site, entry_at,
		exit_event::text, exit_site, exit_at, status, fare, fare_rule, category, coalesce(transfer_from, 0)
		FROM journeys WHERE subject = $1 ORDER BY id DESC LIMIT 2`, r.Subject)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var j admission.Journey
		var entryEvent, exitEvent, entrySite, exitSite, rule *string
		var entryAt, exitAt *time.Time
		var fare *decimal.Decimal
		var jstatus string
		if err := rows.Scan(&j.ID, &j.NetworkID, &j.OperatorID, &entryEvent, &entrySite, &entryAt,
			&exitEvent, &exitSite, &exitAt, &jstatus, &fare, &rule, &j.Category, &j.TransferFrom); err != nil {
			return err
		}
		j.Subject, j.Status = r.Subject, admission.JourneyStatus(jstatus)
		j.EntryEvent, j.EntrySite, j.ExitEvent, j.ExitSite, j.FareRule = deref(entryEvent), deref(entrySite), deref(exitEvent), deref(exitSite), deref(rule)
		if entryAt != nil {
			j.EntryAt = *entryAt
		}
		if exitAt != nil {
			j.ExitAt = *exitAt
		}
		if fare != nil {
			j.Fare = *fare
		}
		switch {
		case j.Status == admission.JourneyOpen && r.Open == nil && r.Last == nil:
			r.Open = &j
		case j.Status != admission.JourneyOpen && r.Last == nil:
			r.Last = &j
			return rows.Err() // only older journeys follow
		}
	}
	return rows.Err()
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nullUUID(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// apply writes an Effect: closed journeys first (freeing the rider's one
// open slot), then the new journey, then the ledger.
func (s *Store) apply(ctx context.Context, tx pgx.Tx, eff admission.Effect) error {
	for _, j := range eff.Close {
		_, err := tx.Exec(ctx, `UPDATE journeys SET exit_event = $2, exit_site = $3, exit_at = $4,
			status = $5, fare = $6, fare_rule = $7, operator_id = $8, full_fare = $9, cap = $10, cap_rule = $11,
			transfer_rule = $12, transfer_from = $13, pass_id = $14
			WHERE id = $1`,
			j.ID, nullUUID(j.ExitEvent), nullText(j.ExitSite), j.ExitAt, string(j.Status), j.Fare, j.FareRule, j.OperatorID,
			j.FullFare, nullText(j.Cap), nullText(j.CapRule), nullText(j.TransferRule), nullID(j.TransferFrom), nullID(j.PassID))
		if err != nil {
			return fmt.Errorf("close journey %d: %w", j.ID, err)
		}
	}
	if j := eff.Open; j != nil {
		var fare, full *decimal.Decimal
		var exitAt any
		if j.Status != admission.JourneyOpen {
			fare, full, exitAt = &j.Fare, &j.FullFare, j.ExitAt
		}
		err := tx.QueryRow(ctx, `INSERT INTO journeys (subject, network_id, operator_id, entry_event, entry_site,
			entry_at, exit_event, exit_site, exit_at, status, fare, fare_rule, category, full_fare, cap, cap_rule, pass_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
			j.Subject, j.NetworkID, j.OperatorID, nullUUID(j.EntryEvent), nullText(j.EntrySite), nullTime(j.EntryAt),
			nullUUID(j.ExitEvent), nullText(j.ExitSite), exitAt, string(j.Status), fare, nullText(j.FareRule), j.Category,
			full, nullText(j.Cap), nullText(j.CapRule), nullID(j.PassID)).
			Scan(&j.ID)
		if err != nil {
			return fmt.Errorf("open journey: %w", err)
		}
	}
	for _, t := range eff.Charges {
		// A charge built before its journey had an id (a journey opened
		// and closed by this tap) belongs to the tap's journey.
		if t.JourneyID == 0 && eff.Journey != nil {
			t.JourneyID = eff.Journey.ID
		}
		if err := post(ctx, tx, t, s.now()); err != nil {
			return err
		}
	}
	return nil
}

func insertTap(ctx context.Context, tx pgx.Tx, rec admission.Record, eff admission.Effect, payload []byte) error {
	d := eff.Decision
	var journeyID *int64
	if eff.Journey != nil && eff.Journey.ID != 0 {
		journeyID = &eff.Journey.ID
	}
	_, err := tx.Exec(ctx, `INSERT INTO taps (event_id, device, site, kind, subject, captured_at, received_at,
		open, reason, fare, balance, journey_id, decision)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		rec.Tap.EventID, rec.Tap.Device, rec.Tap.Site, string(rec.Tap.Kind), nullText(rec.Subject),
		rec.Tap.CapturedAt.Time, rec.ReceivedAt, d.Open, string(d.Reason), d.FareVND, d.BalanceVND, journeyID, payload)
	return err
}

// PurgeAssertionUses forgets assertion ids that expired before cutoff. An
// expired assertion is refused by its expiry, so its jti need not be kept.
func (s *Store) PurgeAssertionUses(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM assertion_uses WHERE expires_at < $1", cutoff)
	if err != nil {
		return 0, fmt.Errorf("settlepg: purge assertion ids: %w", err)
	}
	return tag.RowsAffected(), nil
}

// StaleJourneys lists riders whose journey has been open since before cutoff.
func (s *Store) StaleJourneys(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT subject FROM journeys WHERE status = 'open' AND entry_at < $1
		ORDER BY entry_at LIMIT $2`, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("settlepg: stale journeys: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Settle applies a change to one rider outside any tap (the sweep of
// journeys left open): in one transaction it locks and reads the rider as
// Admit does, calls decide and applies the Effect; its Decision is ignored.
func (s *Store) Settle(ctx context.Context, subject string, decide func(*admission.Rider) (admission.Effect, error)) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		r := &admission.Rider{Subject: subject}
		if err := loadRider(ctx, tx, r); err != nil {
			return err
		}
		// The journey being settled may have entered days ago (a sweep
		// that could not run): passes valid in the last week.
		if err := loadPasses(ctx, tx, r, s.now().Add(-7*24*time.Hour)); err != nil {
			return err
		}
		eff, err := decide(r)
		if err != nil {
			return err
		}
		return s.apply(ctx, tx, eff)
	})
	if err != nil {
		return fmt.Errorf("settlepg: settle %s: %w", subject, err)
	}
	return nil
}
