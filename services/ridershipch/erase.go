package ridershipch

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// riderKeyRE is what a pseudonymous rider key looks like (ridership.Pseudonymizer):
// it is written into the statement, 18.16 having no query parameters.
var riderKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,128}$`)

// erasableTables hold a rider key per row. The aggregates (station
// activity, journeys per hour, parking flow) hold counts of event, journey
// and session ids, never a rider key: they keep their counts.
var erasableTables = []string{"taps", "journeys", "parking_sessions"}

// EraseRider deletes every row of the rider whose pseudonymous key is key
// (erasure on request) and waits, up to wait, for the deletions to be done:
// ALTER TABLE … DELETE is a mutation that ClickHouse (18.16 as today's)
// applies in the background, part by part. On a cluster it runs on every
// shard's local tables. Deleting twice deletes nothing more.
func (s *Sink) EraseRider(ctx context.Context, key string, wait time.Duration) error {
	if !riderKeyRE.MatchString(key) {
		return fmt.Errorf("ridershipch: erase: not a rider key")
	}
	for _, t := range erasableTables {
		name, on := s.db+"."+t, ""
		if s.cluster != "" {
			name, on = s.db+"."+t+"_local", " ON CLUSTER '"+s.cluster+"'"
		}
		exists, err := s.tableExists(ctx, t)
		if err != nil {
			return err
		}
		if !exists { // parking not set up (EnsureParking)
			continue
		}
		if err := s.conn.Exec(ctx, "ALTER TABLE "+name+on+" DELETE WHERE rider_key = '"+key+"'"); err != nil {
			return fmt.Errorf("ridershipch: erase from %s: %w", t, err)
		}
	}
	deadline := time.Now().Add(wait)
	for {
		n, err := s.pendingMutations(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ridershipch: erase: %d deletions still running after %s", n, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Sink) tableExists(ctx context.Context, t string) (bool, error) {
	if s.cluster != "" {
		t += "_local"
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = '"+s.db+"' AND name = '"+t+"'").Scan(&n); err != nil {
		return false, fmt.Errorf("ridershipch: erase: %w", err)
	}
	return n > 0, nil
}

// pendingMutations counts this database's mutations not done yet (on this
// node; a cluster's other shards report their own).
func (s *Sink) pendingMutations(ctx context.Context) (uint64, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = '"+s.db+"' AND is_done = 0").Scan(&n); err != nil {
		return 0, fmt.Errorf("ridershipch: erase: mutations: %w", err)
	}
	return n, nil
}
