package settlepg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// AuditEntry is one access by staff to a rider's personal data (table
// audit_log, append-only by trigger): who, in which scope, what, whose,
// why and in which request.
type AuditEntry struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`       // the staff token's subject
	Role      string    `json:"role"`        // admin, operator, committee
	Operator  string    `json:"operator_id"` // the operator scope of an operator's token
	City      string    `json:"city"`        // the city scope of a committee's token
	Action    string    `json:"action"`      // e.g. "account.read", "journey.refund"
	Resource  string    `json:"resource"`    // the request path
	Rider     string    `json:"rider"`       // the rider's internal subject; "" for a list of many
	Reason    string    `json:"reason"`      // the purpose the caller gave
	RequestID string    `json:"request_id"`
}

// ErrAuditInvalid: an entry without actor, role, action or a 3-1200
// character reason.
var ErrAuditInvalid = errors.New("settlepg: audit entry incomplete")

// Audit appends an entry to the audit log (At defaults to the store's clock).
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	e.Reason = strings.TrimSpace(e.Reason)
	if n := utf8.RuneCountInString(e.Reason); e.Actor == "" || e.Role == "" || e.Action == "" || n < 3 || n > 1200 {
		return ErrAuditInvalid
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_log (at, actor, role, operator_id, city, action, resource, rider, reason, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.At, e.Actor, e.Role, e.Operator, e.City, e.Action, e.Resource, e.Rider, e.Reason, e.RequestID)
	if err != nil {
		return fmt.Errorf("settlepg: audit: %w", err)
	}
	return nil
}

// AuditFilter selects audit entries: of one rider, of one actor, newest
// first, Limit at a time (1-500, default 100), before an id for the next page.
type AuditFilter struct {
	Rider  string
	Actor  string
	Before int64
	Limit  int
}

// AuditLog reads the audit log.
func (s *Store) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, role, operator_id, city, action, resource, rider, reason, request_id
		FROM audit_log WHERE ($1 = '' OR rider = $1) AND ($2 = '' OR actor = $2) AND ($3 = 0 OR id < $3)
		ORDER BY id DESC LIMIT $4`, f.Rider, f.Actor, f.Before, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("settlepg: audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Role, &e.Operator, &e.City, &e.Action, &e.Resource, &e.Rider,
			&e.Reason, &e.RequestID); err != nil {
			return nil, fmt.Errorf("settlepg: audit log: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("settlepg: audit log: %w", err)
	}
	return out, nil
}
