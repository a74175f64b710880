// Package parkingpg is the PostgreSQL store of parking: lots, sessions,
// barrier taps with the decisions sent, plate-bound subscriptions and
// attendants' overrides, in the settlement database beside settlepg's
// ledger, so that a session's close and its fee commit in one transaction
// (settlepg.PostTx). Its schema is migrations/, applied at start under an
// advisory lock and recorded in parking_migrations. It also decides barrier
// taps (Handler), with the rules of package parking.
package parkingpg

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/vnpass/vnpass/internal/pgmigrate"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/vnpass/vnpass/parking"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the parking database.
type Store struct {
	pool *pgxpool.Pool
	cat  *parking.Catalogue
	now  func() time.Time
}

// Open connects to the settlement database at url (settlepg must have
// migrated it: accounts, the ledger and assertion ids live there), brings
// the parking schema up to date and records the catalogue's lots.
func Open(ctx context.Context, url string, cat *parking.Catalogue, now func() time.Time) (*Store, error) {
	if cat == nil {
		return nil, errors.New("parkingpg: a catalogue is required")
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("parkingpg: connect: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	s := &Store{pool: pool, cat: cat, now: now}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	var ids, ops []string
	for _, l := range cat.Lots() {
		ids, ops = append(ids, l.ID), append(ops, l.Operator)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO parking_lots (id, operator_id) SELECT * FROM unnest($1::text[], $2::text[])
		ON CONFLICT (id) DO UPDATE SET operator_id = EXCLUDED.operator_id`, ids, ops); err != nil {
		pool.Close()
		return nil, fmt.Errorf("parkingpg: lots: %w", err)
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Pool exposes the pool to tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Catalogue is the lots and tariffs the store decides with.
func (s *Store) Catalogue() *parking.Catalogue { return s.cat }

// migrate applies the embedded migrations once each, in name order, under
// an advisory lock of its own, recorded in parking_migrations (settlepg
// keeps schema_migrations).
func (s *Store) migrate(ctx context.Context) error {
	return pgmigrate.Apply(ctx, s.pool, pgmigrate.Set{FS: migrations, Glob: "migrations/*.sql",
		Table: "parking_migrations", LockID: 0x7061726b696e67, Name: "parkingpg"})
}

// inTx runs fn in a transaction, again on serialization failures,
// deadlocks and unique violations (a concurrent writer of the same key: the
// retry sees its row).
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || (pe.Code != "40001" && pe.Code != "40P01" && pe.Code != "23505") {
			return err
		}
	}
	return err
}

// Occupancy counts the vehicles in every lot, by class.
func (s *Store) Occupancy(ctx context.Context) (map[string]parking.Occupancy, error) {
	rows, err := s.pool.Query(ctx, `SELECT lot, class, count(*) FROM parking_sessions WHERE status = 'open' GROUP BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("parkingpg: occupancy: %w", err)
	}
	defer rows.Close()
	out := map[string]parking.Occupancy{}
	for rows.Next() {
		var lot, class string
		var n int
		if err := rows.Scan(&lot, &class, &n); err != nil {
			return nil, err
		}
		if out[lot] == nil {
			out[lot] = parking.Occupancy{}
		}
		out[lot][parking.Class(class)] = n
	}
	return out, rows.Err()
}

func occupancyTx(ctx context.Context, tx pgx.Tx, lot string) (parking.Occupancy, error) {
	rows, err := tx.Query(ctx, `SELECT class, count(*) FROM parking_sessions WHERE lot = $1 AND status = 'open' GROUP BY 1`, lot)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	o := parking.Occupancy{}
	for rows.Next() {
		var class string
		var n int
		if err := rows.Scan(&class, &n); err != nil {
			return nil, err
		}
		o[parking.Class(class)] = n
	}
	return o, rows.Err()
}

const sessionCols = `id, lot, coalesce(subject, ''), plate, class, tariff, coalesce(entry_event::text, ''), entry_at,
	coalesce(exit_event::text, ''), exit_at, status = 'open', coalesce(fee, 0), coalesce(rule, ''), coalesce(subscription_id, 0)`

// scanSession scans sessionCols, then extra (columns selected after them).
func scanSession(row pgx.Row, extra ...any) (*parking.Session, error) {
	var s parking.Session
	var class string
	var exitAt *time.Time
	err := row.Scan(append([]any{&s.ID, &s.Lot, &s.Subject, &s.Plate, &class, &s.Tariff, &s.EntryEvent, &s.EntryAt,
		&s.ExitEvent, &exitAt, &s.Open, &s.Fee, &s.Rule, &s.Subscription}, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.Class = parking.Class(class)
	if exitAt != nil {
		s.ExitAt = *exitAt
	}
	return &s, nil
}

// Session reads one session.
func (s *Store) Session(ctx context.Context, id int64) (*parking.Session, error) {
	ses, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionCols+` FROM parking_sessions WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("parkingpg: session %d: %w", id, err)
	}
	return ses, nil
}

// subscriptions lists the subscriptions of plate at lot valid after since.
func subscriptions(ctx context.Context, tx pgx.Tx, lot, plate string, since time.Time) ([]parking.Subscription, error) {
	rows, err := tx.Query(ctx, `SELECT id, plate, tariff, valid_from, valid_until FROM parking_subscriptions
		WHERE lot = $1 AND plate = $2 AND valid_until > $3 ORDER BY valid_from`, lot, plate, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []parking.Subscription
	for rows.Next() {
		var s parking.Subscription
		if err := rows.Scan(&s.ID, &s.Plate, &s.Tariff, &s.From, &s.Until); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ErrNoSessionID: no session with that id.
var ErrNoSessionID = errors.New("parkingpg: no such session")

// Explain reads a session and prices it again from the tariff data and the
// plate's subscriptions, so that the rider sees which rows made the fee
// (an open session is priced up to now). The quote of a session an
// attendant waived or closed differs from its fee: Session.Rule says so.
func (s *Store) Explain(ctx context.Context, id int64) (*parking.Session, *parking.Quote, error) {
	ses, err := s.Session(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if ses == nil {
		return nil, nil, ErrNoSessionID
	}
	lot, ok := s.cat.Lot(ses.Lot)
	if !ok || lot.Tariffs[ses.Class] == nil {
		return ses, nil, nil
	}
	end := ses.ExitAt
	if ses.Open {
		end = s.now()
	}
	var subs []parking.Subscription
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		subs, err = subscriptions(ctx, tx, ses.Lot, ses.Plate, ses.EntryAt)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("parkingpg: explain %d: %w", id, err)
	}
	q, err := lot.Tariffs[ses.Class].Quote(ses.EntryAt, end, subs)
	if err != nil {
		return nil, nil, err
	}
	return ses, &q, nil
}
