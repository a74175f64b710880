package settlepg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClaimAssertion claims a VNeID assertion id for eventID inside tx, in the
// same table the metro's taps claim theirs in (assertion_uses), so an
// assertion is single use whatever kind of gate presents it. It reports
// false when another event holds the jti (a replay). For other services'
// taps (rail gates) recorded in their own transaction on this database.
func ClaimAssertion(ctx context.Context, tx pgx.Tx, jti, eventID string, expiresAt time.Time) (bool, error) {
	var holder string
	err := tx.QueryRow(ctx, `INSERT INTO assertion_uses (jti, event_id, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (jti) DO NOTHING RETURNING event_id::text`, jti, eventID, expiresAt).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		err = tx.QueryRow(ctx, `SELECT event_id::text FROM assertion_uses WHERE jti = $1`, jti).Scan(&holder)
	}
	if err != nil {
		return false, fmt.Errorf("settlepg: claim assertion: %w", err)
	}
	return holder == eventID, nil
}
