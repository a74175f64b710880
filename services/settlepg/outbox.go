package settlepg

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/ridership"
)

var _ ridership.Source = (*Store)(nil)

// PendingTaps returns taps not yet exported to analytics, oldest first.
func (s *Store) PendingTaps(ctx context.Context, limit int, pseudonym func(string) string) ([]ridership.Tap, error) {
	rows, err := s.pool.Query(ctx, `SELECT event_id::text, device, site, kind, coalesce(subject, ''),
		captured_at, received_at, open, reason, coalesce(fare, 0)
		FROM taps WHERE NOT exported ORDER BY received_at LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("settlepg: pending taps: %w", err)
	}
	defer rows.Close()
	var out []ridership.Tap
	for rows.Next() {
		var t ridership.Tap
		var subject string
		if err := rows.Scan(&t.EventID, &t.Device, &t.Site, &t.Kind, &subject, &t.CapturedAt, &t.ReceivedAt,
			&t.Open, &t.Reason, &t.Fare); err != nil {
			return nil, fmt.Errorf("settlepg: pending taps: %w", err)
		}
		t.RiderKey = pseudonym(subject)
		out = append(out, t)
	}
	return out, rows.Err()
}

// MarkTapsExported records that analytics holds these taps.
func (s *Store) MarkTapsExported(ctx context.Context, ids []string) error {
	_, err := s.pool.Exec(ctx, "UPDATE taps SET exported = true WHERE event_id = ANY($1::uuid[])", ids)
	if err != nil {
		return fmt.Errorf("settlepg: mark taps: %w", err)
	}
	return nil
}

// PendingJourneys returns finished journeys not yet exported.
func (s *Store) PendingJourneys(ctx context.Context, limit int, pseudonym func(string) string) ([]ridership.Journey, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, subject, network_id, operator_id, coalesce(entry_site, ''),
		coalesce(exit_site, ''), entry_at, exit_at, status, category, coalesce(fare_rule, ''), coalesce(fare, 0)
		FROM journeys WHERE NOT exported AND status <> 'open' ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("settlepg: pending journeys: %w", err)
	}
	defer rows.Close()
	var out []ridership.Journey
	for rows.Next() {
		var j ridership.Journey
		var subject string
		var entryAt, exitAt *time.Time
		var fare decimal.Decimal
		if err := rows.Scan(&j.ID, &subject, &j.NetworkID, &j.OperatorID, &j.EntrySite, &j.ExitSite,
			&entryAt, &exitAt, &j.Status, &j.Category, &j.FareRule, &fare); err != nil {
			return nil, fmt.Errorf("settlepg: pending journeys: %w", err)
		}
		if entryAt != nil {
			j.EntryAt = *entryAt
		}
		if exitAt != nil {
			j.ExitAt = *exitAt
		}
		j.Fare, j.RiderKey = fare, pseudonym(subject)
		out = append(out, j)
	}
	return out, rows.Err()
}

// MarkJourneysExported records that analytics holds these journeys.
func (s *Store) MarkJourneysExported(ctx context.Context, ids []int64) error {
	_, err := s.pool.Exec(ctx, "UPDATE journeys SET exported = true WHERE id = ANY($1)", ids)
	if err != nil {
		return fmt.Errorf("settlepg: mark journeys: %w", err)
	}
	return nil
}
