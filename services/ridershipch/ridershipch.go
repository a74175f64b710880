// Package ridershipch is the ClickHouse sink of ridership: taps and journeys
// keyed by pseudonymous rider keys, in tables that run on the Debian
// ClickHouse 18.16 used locally and on a current ClickHouse alike.
//
// Tables are ReplacingMergeTree on a sorting key that ends in the row's id,
// so a batch written twice (a crash between writing and marking the outbox)
// collapses to one row per tap; queries that must be exact use FINAL.
//
// The tables are defined once (schema.go) and rendered for one node or, by
// ClusterSchema, for a sharded and replicated cluster (README.md, "Cluster").
package ridershipch

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/vnpass/vnpass/ridership"
)

// Config says where ClickHouse is.
type Config struct {
	Addr     string // native protocol, host:port
	User     string
	Password string
	Database string
	// Cluster names the ClickHouse cluster the database is spread on ("" for
	// one node): Open then creates ClusterSchema's tables (ON CLUSTER,
	// replicated local tables, Distributed tables under the names the
	// queries use) and inserts wait until every shard has its rows
	// (insert_distributed_sync), so a batch the exporter marks as written is
	// on the shards, not queued on the node that received it.
	Cluster string
	// NoMigrate: the schema is created by someone else (a migration job
	// running ClusterSchema once); Open and EnsureParking only connect.
	NoMigrate bool
}

// Sink writes ridership to ClickHouse.
type Sink struct {
	conn      driver.Conn
	db        string
	cluster   string
	noMigrate bool
}

var _ ridership.Sink = (*Sink)(nil)

var (
	dbName      = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	clusterName = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.-]{0,62}|\{cluster\})$`)
)

// Open connects, creates the database and tables if missing and returns the sink.
func Open(ctx context.Context, cfg Config) (*Sink, error) {
	if !dbName.MatchString(cfg.Database) {
		return nil, fmt.Errorf("ridershipch: bad database name %q", cfg.Database)
	}
	if cfg.Cluster != "" && !clusterName.MatchString(cfg.Cluster) {
		return nil, fmt.Errorf("ridershipch: bad cluster name %q", cfg.Cluster)
	}
	opts := &clickhouse.Options{
		Addr:        []string{cfg.Addr},
		Protocol:    clickhouse.Native,
		Auth:        clickhouse.Auth{Database: "default", Username: cfg.User, Password: cfg.Password},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 60 * time.Second,
	}
	if cfg.Cluster != "" {
		opts.Settings = clickhouse.Settings{"insert_distributed_sync": 1}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("ridershipch: open: %w", err)
	}
	s := &Sink{conn: conn, db: cfg.Database, cluster: cfg.Cluster, noMigrate: cfg.NoMigrate}
	if err := s.migrate(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the connection.
func (s *Sink) Close() error { return s.conn.Close() }

// Conn exposes the connection to tests and reports.
func (s *Sink) Conn() driver.Conn { return s.conn }

// Database is the database the sink writes to.
func (s *Sink) Database() string { return s.db }

func (s *Sink) migrate(ctx context.Context) error {
	if s.noMigrate {
		return nil
	}
	var stmts []string
	if s.cluster != "" {
		stmts = clusterSchema(clusterLayout{db: s.db, cluster: s.cluster, replicated: true, onCluster: true}, coreTables)
	} else {
		stmts = append([]string{"CREATE DATABASE IF NOT EXISTS " + s.db}, localSchema(s.db, coreTables)...)
	}
	for _, q := range stmts {
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("ridershipch: schema: %w", err)
		}
	}
	return s.upgrade(ctx)
}

// upgrade brings a database made by an older version up to the tables'
// definitions: tables no longer made are dropped, columns added since are
// added (on a cluster to every shard's local table and the Distributed one).
func (s *Sink) upgrade(ctx context.Context) error {
	on := ""
	if s.cluster != "" {
		on = " ON CLUSTER '" + s.cluster + "'"
	}
	for _, t := range droppedTables {
		names := []string{t}
		if s.cluster != "" && !strings.HasSuffix(t, "_mv") {
			names = append(names, t+"_local")
		}
		for _, n := range names {
			if err := s.conn.Exec(ctx, "DROP TABLE IF EXISTS "+s.db+"."+n+on); err != nil {
				return fmt.Errorf("ridershipch: drop %s: %w", n, err)
			}
		}
	}
	for _, a := range addedColumns {
		tables := []string{a.table}
		if s.cluster != "" {
			tables = []string{a.table + "_local", a.table}
		}
		for _, t := range tables {
			var n uint64
			if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
				s.db, t, a.col.name).Scan(&n); err != nil {
				return fmt.Errorf("ridershipch: columns of %s: %w", t, err)
			}
			if n > 0 {
				continue
			}
			if err := s.conn.Exec(ctx, "ALTER TABLE "+s.db+"."+t+on+" ADD COLUMN "+a.col.name+" "+a.col.typ); err != nil {
				// Another replica of the service starting at the same time,
				// or an earlier ON CLUSTER run that reached some hosts, added
				// it first: that is the state wanted.
				if strings.Contains(err.Error(), "already exists") {
					continue
				}
				return fmt.Errorf("ridershipch: add %s.%s: %w", t, a.col.name, err)
			}
		}
	}
	return nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// WriteTaps inserts taps as one native batch.
func (s *Sink) WriteTaps(ctx context.Context, taps []ridership.Tap) error {
	// 18.16 needs the explicit column list to answer with a block header.
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".taps (event_id, device, site, kind, rider_key, captured_at, received_at, open, reason, fare)")
	if err != nil {
		return fmt.Errorf("ridershipch: prepare taps: %w", err)
	}
	for _, t := range taps {
		if err := b.Append(t.EventID, t.Device, t.Site, t.Kind, t.RiderKey, t.CapturedAt.UTC(), t.ReceivedAt.UTC(),
			b2u(t.Open), t.Reason, t.Fare); err != nil {
			b.Abort()
			return fmt.Errorf("ridershipch: append tap %s: %w", t.EventID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("ridershipch: send taps: %w", err)
	}
	return nil
}

// WriteJourneys inserts journeys as one native batch.
func (s *Sink) WriteJourneys(ctx context.Context, js []ridership.Journey) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".journeys (journey_id, rider_key, network_id, operator_id, entry_site, exit_site, entry_at, exit_at, status, category, fare_rule, fare, version)")
	if err != nil {
		return fmt.Errorf("ridershipch: prepare journeys: %w", err)
	}
	for _, j := range js {
		if err := b.Append(uint64(j.ID), j.RiderKey, j.NetworkID, j.OperatorID, j.EntrySite, j.ExitSite,
			j.EntryAt.UTC(), j.ExitAt.UTC(), j.Status, j.Category, j.FareRule, j.Fare, j.Version); err != nil {
			b.Abort()
			return fmt.Errorf("ridershipch: append journey %d: %w", j.ID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("ridershipch: send journeys: %w", err)
	}
	return nil
}

// Counts is what ClickHouse holds, deduplicated.
type Counts struct {
	Taps, DistinctTaps, Journeys uint64
}

// Count returns the deduplicated number of taps and journeys, and the number
// of distinct tap ids (equal to Taps when nothing was double counted).
func (s *Sink) Count(ctx context.Context) (Counts, error) {
	var c Counts
	if err := s.conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM "+s.db+".taps FINAL").Scan(&c.Taps, &c.DistinctTaps); err != nil {
		return c, fmt.Errorf("ridershipch: count taps: %w", err)
	}
	if err := s.conn.QueryRow(ctx, "SELECT uniqExact(journey_id) FROM "+s.db+".journeys").Scan(&c.Journeys); err != nil {
		return c, fmt.Errorf("ridershipch: count journeys: %w", err)
	}
	return c, nil
}
