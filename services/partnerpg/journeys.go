package partnerpg

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// JourneyCompleted is the data of the journey.completed webhook: a metro
// journey of a rider who lets the partner read their journeys, finished
// (closed, or priced at the maximum fare for a missing tap).
type JourneyCompleted struct {
	RiderRef     string `json:"rider_ref"`
	JourneyID    int64  `json:"journey_id"`
	Network      string `json:"network"`
	EntryStation string `json:"entry_station,omitempty"`
	EntryAt      string `json:"entry_at,omitempty"`
	ExitStation  string `json:"exit_station,omitempty"`
	ExitAt       string `json:"exit_at,omitempty"`
	Status       string `json:"status"`
	FareVND      int64  `json:"fare_vnd"`
}

// EnqueueJourneyEvents enqueues journey.completed for every journey that
// finished within lookback of a rider whose consent lets a partner with a
// webhook read journeys (journeys from the consent on only), once per
// partner and journey. It reads settlement's journeys table, on the same
// database, read-only. Run it every few seconds; it returns how many it
// enqueued.
func (s *Store) EnqueueJourneyEvents(ctx context.Context, lookback time.Duration) (int, error) {
	now := s.cfg.Now()
	rows, err := s.pool.Query(ctx, `SELECT c.partner_id, c.rider_ref, j.id, j.network_id, coalesce(j.entry_site, ''), j.entry_at,
			coalesce(j.exit_site, ''), j.exit_at, j.status, coalesce(j.fare, 0)
		FROM consents c
		JOIN partners p ON p.id = c.partner_id AND p.webhook_url <> '' AND p.status = 'active' AND 'journeys:read' = ANY (p.scopes)
		JOIN journeys j ON j.subject = c.subject
		WHERE c.withdrawn_at IS NULL AND c.expires_at > $1 AND 'journeys:read' = ANY (c.scopes)
		  AND j.status <> 'open' AND coalesce(j.exit_at, j.entry_at) >= c.granted_at AND coalesce(j.exit_at, j.entry_at) > $2
		  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_key = 'journey.completed:' || c.partner_id || ':' || j.id)
		ORDER BY j.id LIMIT 1000`, now, now.Add(-lookback))
	if err != nil {
		return 0, fmt.Errorf("partnerpg: finished journeys: %w", err)
	}
	type ev struct {
		partner string
		data    JourneyCompleted
	}
	var evs []ev
	for rows.Next() {
		var e ev
		var entryAt, exitAt *time.Time
		var fare decimal.Decimal
		if err := rows.Scan(&e.partner, &e.data.RiderRef, &e.data.JourneyID, &e.data.Network, &e.data.EntryStation, &entryAt,
			&e.data.ExitStation, &exitAt, &e.data.Status, &fare); err != nil {
			rows.Close()
			return 0, fmt.Errorf("partnerpg: finished journeys: %w", err)
		}
		if entryAt != nil {
			e.data.EntryAt = entryAt.UTC().Format(time.RFC3339)
		}
		if exitAt != nil {
			e.data.ExitAt = exitAt.UTC().Format(time.RFC3339)
		}
		e.data.FareVND = fare.Round(0).IntPart()
		evs = append(evs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("partnerpg: finished journeys: %w", err)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		for _, e := range evs {
			data, err := json.Marshal(e.data)
			if err != nil {
				return err
			}
			key := "journey.completed:" + e.partner + ":" + strconv.FormatInt(e.data.JourneyID, 10)
			if err := s.enqueue(ctx, tx, e.partner, "journey.completed", key, data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("partnerpg: journey events: %w", err)
	}
	return len(evs), nil
}
