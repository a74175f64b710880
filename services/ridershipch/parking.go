package ridershipch

import (
	"context"
	"fmt"

	"github.com/vnpass/vnpass/ridership"
)

// EnsureParking creates the parking_sessions table beside taps and journeys
// (ReplacingMergeTree on the session id: a session exported twice is one
// row after merges; queries use FINAL or count distinct ids).
func (s *Sink) EnsureParking(ctx context.Context) error {
	if s.noMigrate {
		return nil
	}
	stmts := localSchema(s.db, parkingTables)
	if s.cluster != "" {
		l := clusterLayout{db: s.db, cluster: s.cluster, replicated: true, onCluster: true}
		stmts = append(l.localStatements(parkingTables), l.distributedStatements(parkingTables)...)
	}
	for _, q := range stmts {
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("ridershipch: parking schema: %w", err)
		}
	}
	return nil
}

// WriteParkingSessions inserts closed parking sessions as one native batch.
func (s *Sink) WriteParkingSessions(ctx context.Context, ss []ridership.ParkingSession) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".parking_sessions (session_id, lot, operator_id, rider_key, plate_key, class, tariff, entry_at, exit_at, duration_s, fee, rule, entry_offline, exit_offline, override)")
	if err != nil {
		return fmt.Errorf("ridershipch: prepare parking sessions: %w", err)
	}
	for _, p := range ss {
		d := p.ExitAt.Sub(p.EntryAt).Seconds()
		if d < 0 {
			d = 0
		}
		if err := b.Append(uint64(p.ID), p.Lot, p.OperatorID, p.RiderKey, p.PlateKey, p.Class, p.Tariff, p.EntryAt.UTC(), p.ExitAt.UTC(),
			uint32(d), p.Fee, p.Rule, b2u(p.EntryOffline), b2u(p.ExitOffline), b2u(p.Override)); err != nil {
			b.Abort()
			return fmt.Errorf("ridershipch: append parking session %d: %w", p.ID, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("ridershipch: send parking sessions: %w", err)
	}
	return nil
}

// ParkingCount returns the distinct parking sessions held and their fees.
func (s *Sink) ParkingCount(ctx context.Context) (sessions uint64, fees int64, err error) {
	var f float64
	err = s.conn.QueryRow(ctx, "SELECT uniqExact(session_id), toFloat64(sum(fee)) FROM "+s.db+".parking_sessions FINAL").Scan(&sessions, &f)
	if err != nil {
		return 0, 0, fmt.Errorf("ridershipch: parking count: %w", err)
	}
	return sessions, int64(f), nil
}
