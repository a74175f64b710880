package tapmqtt

import (
	"hash/maphash"
	"sync"
	"time"
)

// givenUp remembers, for a while, the taps given up after their retries
// (by a hash of topic and payload: a gate sends a tap again with the same
// bytes), so that a copy sent again is tried once instead of holding a
// worker through a second round of retries.
type givenUp struct {
	mu   sync.Mutex
	seed maphash.Seed
	keep time.Duration
	at   map[uint64]time.Time
}

// maxGivenUp bounds the memory: past it the oldest half is forgotten
// (a forgotten tap is only retried in full again).
const maxGivenUp = 10_000

func (g *givenUp) init(keep time.Duration) {
	g.seed, g.keep, g.at = maphash.MakeSeed(), keep, make(map[uint64]time.Time)
}

func (g *givenUp) key(topic string, payload []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(g.seed)
	h.WriteString(topic)
	h.WriteByte(0)
	h.Write(payload)
	return h.Sum64()
}

func (g *givenUp) recent(topic string, payload []byte, now time.Time) bool {
	k := g.key(topic, payload)
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.at[k]
	return ok && now.Sub(t) < g.keep
}

func (g *givenUp) add(topic string, payload []byte, now time.Time) {
	k := g.key(topic, payload)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.at) >= maxGivenUp {
		for k, t := range g.at {
			if now.Sub(t) >= g.keep/2 {
				delete(g.at, k)
			}
		}
		if len(g.at) >= maxGivenUp {
			g.at = make(map[uint64]time.Time)
		}
	}
	g.at[k] = now
}
