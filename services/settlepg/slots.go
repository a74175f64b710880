package settlepg

import (
	"context"
	"fmt"
)

// Balance shards per process. Each committer moves operator and provider
// balances in a shard row of its own (migration 011), so that two batches
// never wait for each other on one row. With several fare service replicas
// on one database, each store claims a slot of its own, by a session
// advisory lock held on a connection for its lifetime, and its committers
// use shards slot*committers+i: replicas then never share a shard row
// either. A slot is freed when its holder goes (the connection closes);
// the next store to start takes it, so the rows stay few. Slots are about
// speed only: balances are sums over every shard, whichever wrote it.

const (
	shardSlotLock  = 0x766e70610000 // the advisory lock of slot 0; slot i is +i
	maxShardSlots  = 256
	noSlotFallback = 0
)

// claimShardSlot takes the lowest free slot; when all are taken, slot 0,
// shared: correct, only slower.
func (s *Store) claimShardSlot(ctx context.Context) error {
	for i := 0; i < maxShardSlots; i++ {
		c, err := s.tryHoldLock(ctx, int64(shardSlotLock+i))
		if err != nil {
			return fmt.Errorf("settlepg: shard slot: %w", err)
		}
		if c != nil {
			s.slot, s.slotConn = i, c
			return nil
		}
	}
	s.slot = noSlotFallback
	return nil
}

// releaseShardSlot closes the slot's connection, and with it the lock.
func (s *Store) releaseShardSlot() {
	dropHeldLock(s.slotConn)
	s.slotConn = nil
}

// ShardSlot is the slot this store's committers write balance shards in.
func (s *Store) ShardSlot() int { return s.slot }

// committerShard is the shard row committer i writes.
func (s *Store) committerShard(i int) int { return s.slot*s.batching.Committers + i }
