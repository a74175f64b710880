package settlepg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Session advisory locks held for a store's lifetime (the export lead,
// outbox.go; the balance shard slot, slots.go): the lock lives on a
// connection taken out of the pool, so that a process that dies closes the
// connection and frees the lock for another.

// tryHoldLock takes a connection and tries the lock on it: the connection
// holding it, or nil when another session holds it.
func (s *Store) tryHoldLock(ctx context.Context, key int64) (*pgxpool.Conn, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("settlepg: advisory lock: %w", err)
	}
	var ok bool
	if err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil || !ok {
		c.Release()
		if err != nil {
			return nil, fmt.Errorf("settlepg: advisory lock: %w", err)
		}
		return nil, nil
	}
	return c, nil
}

// dropHeldLock closes the connection (the pool does not get it back), and
// with it the lock.
func dropHeldLock(c *pgxpool.Conn) {
	if c != nil {
		c.Conn().Close(context.Background())
		c.Release()
	}
}
