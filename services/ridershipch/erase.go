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

// erasableTables hold a rider key per row, and what erasure empties in
// them: the rows stay, anonymous, so that ridership counts, the OD matrix
// and revenue read from them do not change when a rider is erased (the
// aggregates, station activity and parking flow, hold ids, never a rider
// key).
var erasableTables = []struct{ name, set string }{
	{"taps", "rider_key = ''"},
	{"journeys", "rider_key = ''"},
	{"parking_sessions", "rider_key = '', plate_key = ''"},
}

// EraseRider removes the pseudonymous key (and a parked vehicle's plate
// key) from every row of the rider whose key is key (erasure on request)
// and waits, up to wait, for that to be done: ALTER TABLE … UPDATE is a
// mutation that ClickHouse (18.16 as today's) applies in the background,
// part by part. On a cluster it runs on every shard's local tables.
// Erasing twice changes nothing more.
func (s *Sink) EraseRider(ctx context.Context, key string, wait time.Duration) error {
	if !riderKeyRE.MatchString(key) {
		return fmt.Errorf("ridershipch: erase: not a rider key")
	}
	for _, et := range erasableTables {
		t := et.name
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
		if err := s.conn.Exec(ctx, "ALTER TABLE "+name+on+" UPDATE "+et.set+" WHERE rider_key = '"+key+"'"); err != nil {
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
