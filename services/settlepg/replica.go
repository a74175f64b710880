package settlepg

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A read-only pool over streaming replicas (SCALING.md, section 1): reads
// that decide nothing written afterwards and can be seconds stale (the
// books check, clearing and reconciliation reports, the deny list pushed to
// gates, outbox metrics, partners' reads) go there while the replica is
// within MaxLag of the primary; everything else, and everything when the
// replica lags or fails, reads the primary.

// DefaultMaxReplicaLag is how far behind a replica may be and still serve.
const DefaultMaxReplicaLag = 5 * time.Second

type replica struct {
	pool    *pgxpool.Pool
	maxLag  time.Duration
	healthy atomic.Bool
	lag     atomic.Int64 // nanoseconds, at the last check; -1 when it failed
	stop    chan struct{}
	wg      sync.WaitGroup
}

// UseReplica sends the stale-tolerant reads to the server at url (a
// streaming replica, or a Service over several) while it is no more than
// maxLag behind (DefaultMaxReplicaLag when 0), checked every second.
func (s *Store) UseReplica(ctx context.Context, url string, maxLag time.Duration) error {
	if maxLag <= 0 {
		maxLag = DefaultMaxReplicaLag
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("settlepg: replica: %w", err)
	}
	r := &replica{pool: pool, maxLag: maxLag, stop: make(chan struct{})}
	r.check(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				c, cancel := context.WithTimeout(context.Background(), time.Second)
				r.check(c)
				cancel()
			}
		}
	}()
	s.replicaMu.Lock()
	s.replica = r
	s.replicaMu.Unlock()
	return nil
}

// check measures the replica's lag: zero while it has replayed all it
// received, else the age of the last transaction it replayed (which alone
// would grow while the primary is idle).
func (r *replica) check(ctx context.Context) {
	var lag float64
	err := r.pool.QueryRow(ctx, `SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0
		WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
		ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 1e9) END::float8`).Scan(&lag)
	if err != nil {
		r.lag.Store(-1)
		r.healthy.Store(false)
		return
	}
	d := time.Duration(lag * float64(time.Second))
	r.lag.Store(int64(d))
	r.healthy.Store(d <= r.maxLag)
}

func (r *replica) close() {
	close(r.stop)
	r.wg.Wait()
	r.pool.Close()
}

// reader is the pool for a stale-tolerant read: the replica while it is
// healthy, else the primary.
func (s *Store) reader() *pgxpool.Pool {
	s.replicaMu.Lock()
	r := s.replica
	s.replicaMu.Unlock()
	if r != nil && r.healthy.Load() {
		return r.pool
	}
	return s.pool
}

// ReplicaLag reports the replica's lag at the last check, and whether reads
// go there now; ok is false without a replica or when it did not answer.
func (s *Store) ReplicaLag() (lag time.Duration, serving, ok bool) {
	s.replicaMu.Lock()
	r := s.replica
	s.replicaMu.Unlock()
	if r == nil {
		return 0, false, false
	}
	n := r.lag.Load()
	if n < 0 {
		return 0, false, false
	}
	return time.Duration(n), r.healthy.Load(), true
}
