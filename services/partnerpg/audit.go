package partnerpg

import (
	"context"
	"fmt"
	"time"
)

// AuditEntry is one call of the partner API.
type AuditEntry struct {
	At        time.Time
	ActorKind string // partner, rider, admin, anonymous
	Actor     string // partner id, or "" (a rider's subject goes in Subject)
	Method    string
	Route     string // the route pattern, not the path: no rider handle in it
	Subject   string // the rider concerned, when known
	Status    int
	Outcome   string // the problem kind, or "ok"
}

// Audit appends an entry (the table refuses updates and deletes).
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	var subject *string
	if e.Subject != "" {
		subject = &e.Subject
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO partner_audit (at, actor_kind, actor, method, route, subject, status, outcome)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.At, e.ActorKind, e.Actor, e.Method, e.Route, subject, e.Status, e.Outcome)
	if err != nil {
		return fmt.Errorf("partnerpg: audit: %w", err)
	}
	return nil
}

// AuditTrail lists the entries about a partner or a rider, oldest first
// (for the rider's view of who read what, and for tests).
func (s *Store) AuditTrail(ctx context.Context, actor, subject string) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, actor_kind, actor, method, route, coalesce(subject, ''), status, outcome
		FROM partner_audit WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR subject = $2) ORDER BY id`, actor, subject)
	if err != nil {
		return nil, fmt.Errorf("partnerpg: audit trail: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.At, &e.ActorKind, &e.Actor, &e.Method, &e.Route, &e.Subject, &e.Status, &e.Outcome); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
