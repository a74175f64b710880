package settlepg

import (
	"context"
	"fmt"
	"time"
)

// OldestUnexported returns when the oldest tap or finished journey still
// behind the analytics export cursor was settled: zero when ClickHouse holds
// everything. The fare service shows now minus this as
// vnpass_settlement_lag_seconds.
//
// It reads one row of each kind, the first in cursor order (the export
// indexes on transaction id), so it costs the same however far behind the
// export is; the first in transaction order is the oldest but for taps
// committed within the same few milliseconds. A tap is dated by when the
// service received it; a journey by when its exit tap was received (a
// journey closed late by its exit is exportable from then, not from its
// original exit time), else by its exit time (a journey closed by the sweep).
func (s *Store) OldestUnexported(ctx context.Context) (time.Time, error) {
	var tap, journey *time.Time
	err := s.reader().QueryRow(ctx, `SELECT
		(SELECT t.received_at FROM taps t
			WHERE (t.txid, t.event_id) > (SELECT tap_txid, tap_event FROM export_cursors)
			ORDER BY t.txid, t.event_id LIMIT 1),
		(SELECT coalesce(x.received_at, j.exit_at, j.entry_at) FROM journeys j
			LEFT JOIN taps x ON x.event_id = j.exit_event
			WHERE j.export_txid IS NOT NULL AND (j.export_txid, j.id) > (SELECT journey_txid, journey_id FROM export_cursors)
			ORDER BY j.export_txid, j.id LIMIT 1)`).Scan(&tap, &journey)
	if err != nil {
		return time.Time{}, fmt.Errorf("settlepg: oldest unexported: %w", err)
	}
	var oldest time.Time
	for _, at := range []*time.Time{tap, journey} {
		if at != nil && (oldest.IsZero() || at.Before(oldest)) {
			oldest = *at
		}
	}
	return oldest, nil
}
