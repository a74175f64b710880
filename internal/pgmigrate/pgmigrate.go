// Package pgmigrate applies a store's embedded SQL migrations to
// PostgreSQL: in name order, each once and in its own transaction, recorded
// in the store's own table, under an advisory lock so that replicas starting
// together do not race. Every store (settlement, parking, partners,
// disputes) shares one database, so each names its own table and lock.
package pgmigrate

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Set is one store's migrations.
type Set struct {
	FS     fs.FS  // holds the files
	Glob   string // e.g. "migrations/*.sql"
	Table  string // where applied names are kept, e.g. "schema_migrations"
	LockID int64  // the advisory lock, distinct per store
	Name   string // the store, for errors
}

// Apply brings the database up to date with s.
func Apply(ctx context.Context, pool *pgxpool.Pool, s Set) error {
	names, err := fs.Glob(s.FS, s.Glob)
	if err != nil {
		return err
	}
	sort.Strings(names)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("%s: migrate: %w", s.Name, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", s.LockID); err != nil {
		return fmt.Errorf("%s: migrate: lock: %w", s.Name, err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", s.LockID)
	table := pgx.Identifier{s.Table}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
		name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("%s: migrate: %w", s.Name, err)
	}
	for _, name := range names {
		base := path.Base(name)
		var done bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+table+" WHERE name = $1)", base).Scan(&done); err != nil {
			return fmt.Errorf("%s: migrate: %w", s.Name, err)
		}
		if done {
			continue
		}
		sql, err := fs.ReadFile(s.FS, name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO "+table+" (name) VALUES ($1)", base)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: migration %s: %w", s.Name, base, err)
		}
	}
	return nil
}
