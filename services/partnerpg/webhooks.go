package partnerpg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Delivery is one webhook to send to a partner.
type Delivery struct {
	ID        string
	Partner   string
	URL       string
	Secret    []byte
	EventType string
	// Body is the exact JSON sent (the signature covers these bytes).
	Body      []byte
	State     string // pending, delivered, failed
	Attempts  int
	NextAt    time.Time
	CreatedAt time.Time
}

// Event is the JSON body of every webhook: the id stays the same across
// retries, so the receiver keeps each id once.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt string          `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// enqueue writes a webhook for the partner in tx, once per event key.
func (s *Store) enqueue(ctx context.Context, tx pgx.Tx, partnerID, typ, key string, data []byte) error {
	now := s.cfg.Now()
	id := uuid.Must(uuid.NewV7()).String()
	body, err := json.Marshal(Event{ID: id, Type: typ, CreatedAt: now.UTC().Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, partner_id, event_type, event_key, payload, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (event_key) DO NOTHING`, id, partnerID, typ, key, body, now)
	return err
}

// ClaimDue takes up to limit deliveries that are due and leases them for
// lease (their next attempt moves out by lease), so that replicas never
// send one at the same time; the sender then records the outcome.
func (s *Store) ClaimDue(ctx context.Context, limit int, lease time.Duration) ([]Delivery, error) {
	now := s.cfg.Now()
	rows, err := s.pool.Query(ctx, `UPDATE webhook_deliveries d SET next_attempt_at = $3
		FROM partners p
		WHERE d.id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1
			ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) AND p.id = d.partner_id
		RETURNING d.id::text, d.partner_id, p.webhook_url, p.webhook_secret, d.event_type, d.payload, d.state, d.attempts, d.next_attempt_at, d.created_at`,
		now, limit, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("partnerpg: due webhooks: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(&d.ID, &d.Partner, &d.URL, &d.Secret, &d.EventType, &d.Body, &d.State, &d.Attempts, &d.NextAt, &d.CreatedAt); err != nil {
			return nil, fmt.Errorf("partnerpg: due webhooks: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Attempted records an attempt: delivered when ok; otherwise the next
// attempt at next, or failed for good when next is zero.
func (s *Store) Attempted(ctx context.Context, id string, ok bool, status int, errText string, next time.Time) error {
	now := s.cfg.Now()
	var err error
	switch {
	case ok:
		_, err = s.pool.Exec(ctx, `UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, last_status = $2,
			last_error = NULL, delivered_at = $3 WHERE id = $1 AND state = 'pending'`, id, status, now)
	case next.IsZero():
		_, err = s.pool.Exec(ctx, `UPDATE webhook_deliveries SET state = 'failed', attempts = attempts + 1, last_status = $2,
			last_error = $3 WHERE id = $1 AND state = 'pending'`, id, status, errText)
	default:
		_, err = s.pool.Exec(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $2, last_error = $3,
			next_attempt_at = $4 WHERE id = $1 AND state = 'pending'`, id, status, errText, next)
	}
	if err != nil {
		return fmt.Errorf("partnerpg: webhook attempt: %w", err)
	}
	return nil
}

// Delivery returns one delivery's state.
func (s *Store) Delivery(ctx context.Context, id string) (Delivery, error) {
	var d Delivery
	err := s.pool.QueryRow(ctx, `SELECT id::text, partner_id, event_type, payload, state, attempts, next_attempt_at, created_at
		FROM webhook_deliveries WHERE id = $1`, id).Scan(&d.ID, &d.Partner, &d.EventType, &d.Body, &d.State, &d.Attempts, &d.NextAt, &d.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Delivery{}, fmt.Errorf("partnerpg: delivery %s: not found", id)
	}
	return d, err
}
