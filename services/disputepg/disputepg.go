// Package disputepg is the PostgreSQL store of riders' disputes
// (package dispute): the disputes and the append-only record of every
// change of their state. Its schema (migrations/) is applied at start-up
// under an advisory lock and recorded in its own table, dispute_migrations.
package disputepg

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/vnpass/vnpass/internal/pgmigrate"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/vnpass/vnpass/dispute"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store of disputes.
type Store struct {
	pool      *pgxpool.Pool
	chargeSQL atomic.Pointer[string] // chargeOperator, once every table is there
}

// Open connects to PostgreSQL at url and brings the schema up to date.
//
// The store has a pool of its own: a refund is posted (by the settlement
// store, on its pool) while the dispute's row is locked in a transaction
// here, and resolutions waiting for that lock must not hold the
// connections the refund needs.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("disputepg: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("disputepg: connect: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// migrate applies the embedded migrations in name order, once each, under
// an advisory lock of its own (replicas starting together do not race).
func (s *Store) migrate(ctx context.Context) error {
	return pgmigrate.Apply(ctx, s.pool, pgmigrate.Set{FS: migrations, Glob: "migrations/*.sql",
		Table: "dispute_migrations", LockID: 0x766e70617373_64, Name: "disputepg"})
}

// File records a new dispute (dispute.New) and returns it with its id;
// dispute.ErrAlreadyOpen when the charge is disputed already.
func (s *Store) File(ctx context.Context, d dispute.Dispute) (dispute.Dispute, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO disputes (subject, kind, charge_id, charged, reason, status, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			d.Subject, string(d.Kind), d.ChargeID, d.Charged, d.Reason, string(d.Status), d.CreatedAt).Scan(&d.ID)
		if err != nil {
			return err
		}
		return writeEvents(ctx, tx, d.ID, 0, d.Events)
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return dispute.Dispute{}, dispute.ErrAlreadyOpen
	}
	if err != nil {
		return dispute.Dispute{}, fmt.Errorf("disputepg: file: %w", err)
	}
	return d, nil
}

func writeEvents(ctx context.Context, tx pgx.Tx, id int64, from int, evs []dispute.Event) error {
	for i := from; i < len(evs); i++ {
		e := evs[i]
		if _, err := tx.Exec(ctx, `INSERT INTO dispute_events (dispute_id, seq, at, by_whom, status, note)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, i+1, e.At, e.By, string(e.Status), e.Note); err != nil {
			return err
		}
	}
	return nil
}

const columns = `id, subject, kind, charge_id, charged, reason, status, resolution, resolved_by, resolved_at,
	refund, coalesce(refund_tx, 0), created_at`

func scan(row pgx.Row) (dispute.Dispute, error) {
	var d dispute.Dispute
	var kind, status string
	var resolvedAt *time.Time
	err := row.Scan(&d.ID, &d.Subject, &kind, &d.ChargeID, &d.Charged, &d.Reason, &status, &d.Resolution,
		&d.ResolvedBy, &resolvedAt, &d.Refund, &d.RefundTxID, &d.CreatedAt)
	d.Kind, d.Status = dispute.Kind(kind), dispute.Status(status)
	if resolvedAt != nil {
		d.ResolvedAt = *resolvedAt
	}
	return d, err
}

func (s *Store) events(ctx context.Context, q pgx.Tx, ds []dispute.Dispute) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]int64, len(ds))
	at := make(map[int64]int, len(ds))
	for i, d := range ds {
		ids[i], at[d.ID] = d.ID, i
	}
	var rows pgx.Rows
	var err error
	const sql = `SELECT dispute_id, at, by_whom, status, note FROM dispute_events WHERE dispute_id = ANY($1) ORDER BY dispute_id, seq`
	if q != nil {
		rows, err = q.Query(ctx, sql, ids)
	} else {
		rows, err = s.pool.Query(ctx, sql, ids)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var e dispute.Event
		var status string
		if err := rows.Scan(&id, &e.At, &e.By, &status, &e.Note); err != nil {
			return err
		}
		e.Status = dispute.Status(status)
		ds[at[id]].Events = append(ds[at[id]].Events, e)
	}
	return rows.Err()
}

// Get reads one dispute with its events; dispute.ErrNotFound if none.
func (s *Store) Get(ctx context.Context, id int64) (dispute.Dispute, error) {
	d, err := scan(s.pool.QueryRow(ctx, "SELECT "+columns+" FROM disputes WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return dispute.Dispute{}, fmt.Errorf("%w: %d", dispute.ErrNotFound, id)
	}
	if err != nil {
		return dispute.Dispute{}, fmt.Errorf("disputepg: dispute %d: %w", id, err)
	}
	ds := []dispute.Dispute{d}
	if err := s.events(ctx, nil, ds); err != nil {
		return dispute.Dispute{}, fmt.Errorf("disputepg: dispute %d: %w", id, err)
	}
	return ds[0], nil
}

// Filter selects disputes: a rider's own (Subject), by status, newest
// first, Limit at a time, before an id for the next page. Operator keeps
// only the disputes of charges on that operator's lines and lots.
type Filter struct {
	Subject  string
	Status   dispute.Status
	Operator string
	Before   int64
	Limit    int
}

// chargeOperator is the SQL of the operator of a dispute's charge: the
// journey's line operator (settlement's journeys) or the parking lot's
// (parking's parking_lots), read from the same database; NULL when the
// charge is not found. A store whose database lacks one of those tables
// (the other stores not opened yet, or this store's own tests) finds no
// operator for that kind of charge.
func (s *Store) chargeOperator(ctx context.Context) (string, error) {
	if v := s.chargeSQL.Load(); v != nil {
		return *v, nil
	}
	var journeys, parking bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('journeys') IS NOT NULL,
		to_regclass('parking_sessions') IS NOT NULL AND to_regclass('parking_lots') IS NOT NULL`).Scan(&journeys, &parking); err != nil {
		return "", err
	}
	j, p := "NULL::text", "NULL::text"
	if journeys {
		j = `(SELECT j.operator_id FROM journeys j WHERE j.id = d.charge_id)`
	}
	if parking {
		p = `(SELECT l.operator_id FROM parking_sessions s JOIN parking_lots l ON l.id = s.lot WHERE s.id = d.charge_id)`
	}
	sql := `CASE d.kind WHEN 'journey' THEN ` + j + ` WHEN 'parking_session' THEN ` + p + ` END`
	if journeys && parking { // final: tables are not dropped
		s.chargeSQL.Store(&sql)
	}
	return sql, nil
}

// ChargeOperator returns the operator whose line or lot the dispute's
// charge is on ("" when the charge is not found); dispute.ErrNotFound if
// there is no such dispute.
func (s *Store) ChargeOperator(ctx context.Context, id int64) (string, error) {
	chargeOperator, err := s.chargeOperator(ctx)
	if err != nil {
		return "", fmt.Errorf("disputepg: dispute %d operator: %w", id, err)
	}
	var op *string
	err = s.pool.QueryRow(ctx, `SELECT `+chargeOperator+` FROM disputes d WHERE d.id = $1`, id).Scan(&op)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%w: %d", dispute.ErrNotFound, id)
	}
	if err != nil {
		return "", fmt.Errorf("disputepg: dispute %d operator: %w", id, err)
	}
	if op == nil {
		return "", nil
	}
	return *op, nil
}

// List returns the disputes the filter selects, newest first, with their events.
func (s *Store) List(ctx context.Context, f Filter) ([]dispute.Dispute, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	scope := ""
	args := []any{f.Subject, string(f.Status), f.Before, f.Limit}
	if f.Operator != "" {
		chargeOperator, err := s.chargeOperator(ctx)
		if err != nil {
			return nil, fmt.Errorf("disputepg: list: %w", err)
		}
		scope = " AND " + chargeOperator + " = $5"
		args = append(args, f.Operator)
	}
	rows, err := s.pool.Query(ctx, "SELECT "+columns+` FROM disputes d
		WHERE ($1 = '' OR subject = $1) AND ($2 = '' OR status = $2) AND ($3 = 0 OR id < $3)`+scope+`
		ORDER BY id DESC LIMIT $4`, args...)
	if err != nil {
		return nil, fmt.Errorf("disputepg: list: %w", err)
	}
	var out []dispute.Dispute
	for rows.Next() {
		d, err := scan(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("disputepg: list: %w", err)
		}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("disputepg: list: %w", err)
	}
	if err := s.events(ctx, nil, out); err != nil {
		return nil, fmt.Errorf("disputepg: list: %w", err)
	}
	return out, nil
}

// Update changes a dispute under a row lock: fn (a dispute.Dispute method)
// decides the change, the store writes it and the events fn added.
func (s *Store) Update(ctx context.Context, id int64, fn func(*dispute.Dispute) error) (dispute.Dispute, error) {
	var d dispute.Dispute
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		d, err = scan(tx.QueryRow(ctx, "SELECT "+columns+" FROM disputes WHERE id = $1 FOR UPDATE", id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %d", dispute.ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		ds := []dispute.Dispute{d}
		if err := s.events(ctx, tx, ds); err != nil {
			return err
		}
		d = ds[0]
		had := len(d.Events)
		if err := fn(&d); err != nil {
			return err
		}
		var resolvedAt *time.Time
		if !d.ResolvedAt.IsZero() {
			resolvedAt = &d.ResolvedAt
		}
		var refundTx *int64
		if d.RefundTxID != 0 {
			refundTx = &d.RefundTxID
		}
		if _, err := tx.Exec(ctx, `UPDATE disputes SET status = $2, resolution = $3, resolved_by = $4, resolved_at = $5,
			refund = $6, refund_tx = $7 WHERE id = $1`, id, string(d.Status), d.Resolution, d.ResolvedBy, resolvedAt,
			d.Refund, refundTx); err != nil {
			return err
		}
		return writeEvents(ctx, tx, id, had, d.Events)
	})
	if err != nil {
		if errors.Is(err, dispute.ErrNotFound) || errors.Is(err, dispute.ErrResolved) || errors.Is(err, dispute.ErrInvalid) {
			return dispute.Dispute{}, err
		}
		return dispute.Dispute{}, fmt.Errorf("disputepg: update %d: %w", id, err)
	}
	return d, nil
}

// OpenCount counts the disputes waiting in the queue.
func (s *Store) OpenCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM disputes WHERE status = 'open'").Scan(&n)
	return n, err
}
