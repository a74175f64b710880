// Package settlepg is the PostgreSQL store of settlement: rider and operator
// accounts, the double-entry ledger, taps with the decisions sent for them,
// journeys, and the outbox the ridership exporter reads. It implements
// admission.Store.
package settlepg

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnpass/vnpass/internal/pgmigrate"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the settlement database.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time

	batching   Batching
	in         chan *item
	quit       chan struct{}
	closeOnce  sync.Once
	committers sync.WaitGroup
	stats      struct{ batches, items, fallbacks atomic.Int64 }

	// leadConn holds the export lock while this store leads the export
	// to analytics (outbox.go).
	leadMu   sync.Mutex
	leadConn *pgxpool.Conn

	// slot numbers this store's balance shards (slots.go).
	slot     int
	slotConn *pgxpool.Conn

	// replica serves stale-tolerant reads (replica.go).
	replicaMu sync.Mutex
	replica   *replica
}

// Open connects to PostgreSQL at url and brings the schema up to date.
func Open(ctx context.Context, url string, now func() time.Time) (*Store, error) {
	return OpenWith(ctx, url, now, Batching{})
}

// OpenWith is Open with group commit tuned.
func OpenWith(ctx context.Context, url string, now func() time.Time, b Batching) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("settlepg: %w", err)
	}
	// Every statement is planned with its arguments. Settlement joins
	// arrays of keys to tables by their indexes; a generic plan cached while
	// a table was still small (a fresh install, each load-test run) hashed
	// the whole table instead, and kept doing so as it grew: the duplicate
	// check of a batch took 10 ms at 60,000 taps and the gates' p50 went
	// from 11 to 548 ms (loadtest/RESULTS.md). Planning a batch's dozen
	// statements costs less than one such scan.
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("settlepg: connect: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	s := &Store{pool: pool, now: now}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.claimShardSlot(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	s.startBatcher(b)
	return s, nil
}

// Close stops the committers (a batch in flight finishes) and closes the pool.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		close(s.quit)
		s.committers.Wait()
		s.stopLeading()
		s.releaseShardSlot()
		s.replicaMu.Lock()
		if s.replica != nil {
			s.replica.close()
			s.replica = nil
		}
		s.replicaMu.Unlock()
		s.pool.Close()
	})
}

// Pool exposes the pool to tests and reports in this module.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// migrate applies the embedded migrations in name order, once each, under an
// advisory lock so that replicas starting together do not race.
func (s *Store) migrate(ctx context.Context) error {
	return pgmigrate.Apply(ctx, s.pool, pgmigrate.Set{FS: migrations, Glob: "migrations/*.sql",
		Table: "schema_migrations", LockID: 0x766e70617373, Name: "settlepg"})
}

// retryable reports errors after which the whole transaction may simply be
// run again: serialization failures, deadlocks and a unique violation from a
// concurrent writer of the same key (the retry then sees the committed row).
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01", "23505":
			return true
		}
	}
	return false
}

// inTx runs fn in a transaction, retrying a few times on retryable errors.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || !retryable(err) {
			return err
		}
	}
	return err
}
