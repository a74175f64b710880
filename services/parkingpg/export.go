package parkingpg

import (
	"context"
	"fmt"
	"time"

	"github.com/vnpass/vnpass/ridership"
)

// SessionSink receives closed sessions for analytics (*ridershipch.Sink).
type SessionSink interface {
	WriteParkingSessions(ctx context.Context, ss []ridership.ParkingSession) error
}

// Export sends up to limit closed sessions not yet exported to sink, with
// the rider and plate pseudonymised, and marks them exported. A crash
// between the two sends them again: the sink keeps one row per session id.
func (s *Store) Export(ctx context.Context, sink SessionSink, pseudo *ridership.Pseudonymizer, limit int) (int, error) {
	rows, err := s.pool.Query(ctx, `SELECT s.id, s.lot, l.operator_id, coalesce(s.subject, ''), s.plate, s.class, s.tariff,
			s.entry_at, s.exit_at, coalesce(s.fee, 0), coalesce(s.rule, ''), s.entry_offline, s.exit_offline, s.override_id IS NOT NULL
		FROM parking_sessions s JOIN parking_lots l ON l.id = s.lot
		WHERE NOT s.exported AND s.status = 'closed' ORDER BY s.id LIMIT $1`, limit)
	if err != nil {
		return 0, fmt.Errorf("parkingpg: export: %w", err)
	}
	var out []ridership.ParkingSession
	var ids []int64
	for rows.Next() {
		var p ridership.ParkingSession
		var subject, plate string
		if err := rows.Scan(&p.ID, &p.Lot, &p.OperatorID, &subject, &plate, &p.Class, &p.Tariff, &p.EntryAt, &p.ExitAt,
			&p.Fee, &p.Rule, &p.EntryOffline, &p.ExitOffline, &p.Override); err != nil {
			rows.Close()
			return 0, fmt.Errorf("parkingpg: export: %w", err)
		}
		if subject != "" {
			p.RiderKey = pseudo.Key(subject)
		}
		p.PlateKey = pseudo.Key("plate:" + plate)
		out = append(out, p)
		ids = append(ids, p.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("parkingpg: export: %w", err)
	}
	if len(out) == 0 {
		return 0, nil
	}
	if err := sink.WriteParkingSessions(ctx, out); err != nil {
		return 0, err
	}
	if _, err := s.pool.Exec(ctx, "UPDATE parking_sessions SET exported = true WHERE id = ANY($1)", ids); err != nil {
		return 0, fmt.Errorf("parkingpg: export: mark: %w", err)
	}
	return len(out), nil
}

// ExportEvery exports every interval until ctx ends; failures are retried
// at the next tick.
func (s *Store) ExportEvery(ctx context.Context, sink SessionSink, pseudo *ridership.Pseudonymizer, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for {
				n, err := s.Export(ctx, sink, pseudo, 1000)
				if err != nil && ctx.Err() == nil && onErr != nil {
					onErr(err)
				}
				if err != nil || n < 1000 {
					break
				}
			}
		}
	}
}
