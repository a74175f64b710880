// Package partnerpg is the PostgreSQL store of the partner API and of rail
// gates: registered partners, riders' consents, train tickets bound to
// riders, rail gate taps (once each), webhook deliveries and the
// append-only audit of every partner API call. Its schema has its own
// migrations and its own migrations table (partner_schema_migrations), so
// it shares a database with settlepg without touching its schema.
package partnerpg

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/vnpass/vnpass/internal/pgmigrate"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ClaimFunc claims a VNeID assertion id for an event inside tx; false when
// another event holds it (settlepg.ClaimAssertion).
type ClaimFunc func(ctx context.Context, tx pgx.Tx, jti, eventID string, expiresAt time.Time) (bool, error)

// Config of a Store.
type Config struct {
	// RefKey keys the riders' handles given to partners (at least 32
	// bytes; the same for every replica, kept like the pseudonym key).
	RefKey []byte
	// ClaimJTI claims assertion ids where every gate kind claims them.
	ClaimJTI ClaimFunc
	Now      func() time.Time
}

// Store is the partner and rail database.
type Store struct {
	pool *pgxpool.Pool
	cfg  Config
}

// Open connects to PostgreSQL at url and brings the schema up to date.
func Open(ctx context.Context, url string, cfg Config) (*Store, error) {
	if len(cfg.RefKey) < 32 {
		return nil, errors.New("partnerpg: the rider reference key must be at least 32 bytes")
	}
	if cfg.ClaimJTI == nil {
		return nil, errors.New("partnerpg: ClaimJTI is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("partnerpg: connect: %w", err)
	}
	s := &Store{pool: pool, cfg: cfg}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Pool exposes the pool to tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// migrate applies the embedded migrations once each, in name order, under
// an advisory lock of its own (replicas starting together do not race).
func (s *Store) migrate(ctx context.Context) error {
	return pgmigrate.Apply(ctx, s.pool, pgmigrate.Set{FS: migrations, Glob: "migrations/*.sql",
		Table: "partner_schema_migrations", LockID: 0x766e70617274, Name: "partnerpg"})
}

// riderRef is the partner's handle for a rider: a keyed hash of the subject
// per partner, so partners cannot match riders between them.
func (s *Store) riderRef(partnerID, subject string) string {
	m := hmac.New(sha256.New, s.cfg.RefKey)
	m.Write([]byte(partnerID))
	m.Write([]byte{0})
	m.Write([]byte(subject))
	return "r_" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// inTx runs fn in a transaction, again on a serialization failure,
// deadlock or concurrent insert of the same key.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || (pe.Code != "40001" && pe.Code != "40P01" && pe.Code != "23505") {
			return err
		}
	}
	return err
}
