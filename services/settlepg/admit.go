package settlepg

import (
	"context"
	"fmt"
	"time"

	"github.com/vnpass/vnpass/admission"
)

var _ admission.Store = (*Store)(nil)

// PurgeAssertionUses forgets assertion ids that expired before cutoff. An
// expired assertion is refused by its expiry, so its jti need not be kept.
func (s *Store) PurgeAssertionUses(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM assertion_uses WHERE expires_at < $1", cutoff)
	if err != nil {
		return 0, fmt.Errorf("settlepg: purge assertion ids: %w", err)
	}
	return tag.RowsAffected(), nil
}

// StaleJourneys lists riders whose journey has been open since before cutoff.
func (s *Store) StaleJourneys(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT subject FROM journeys WHERE status = 'open' AND entry_at < $1
		ORDER BY entry_at LIMIT $2`, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("settlepg: stale journeys: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
