package admission

import "sync"

// recent remembers the taps this processor decided lately, and those it is
// deciding, by event id. Under load a gate that hears nothing within its
// timeout sends the tap again under the same event id; without this, each
// copy costs a signature check and a database round before the store's
// idempotency answers it with the stored decision, and an overloaded
// service spends its capacity on copies (seen in the sustained load: the
// rate decided fell from ~2,000 to ~1,200 taps/s when offered 3,000). A
// copy arriving while the first is decided waits for it. Only what the
// store committed is remembered (the decision bytes it returned); another
// replica's copies go the full way, which the store makes safe.
type recent struct {
	mu   sync.Mutex
	m    map[string]*recentTap
	ring []string // event ids in the order they finished, for eviction
	next int
}

type recentTap struct {
	done  chan struct{}
	reply Reply
	err   error
}

// recentSize is how many decided taps are remembered: at 5,000 taps/s, the
// last ten seconds, longer than any gate waits before sending again.
const recentSize = 50_000

// begin returns the tap's entry, and whether this call is the first (it
// must then decide the tap and call finish).
func (r *recent) begin(eventID string) (*recentTap, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]*recentTap)
		r.ring = make([]string, recentSize)
	}
	if e, ok := r.m[eventID]; ok {
		return e, false
	}
	e := &recentTap{done: make(chan struct{})}
	r.m[eventID] = e
	return e, true
}

// finish records the outcome and wakes the copies waiting for it. A failed
// attempt is forgotten at once, so that the next copy tries again.
func (r *recent) finish(eventID string, e *recentTap, reply Reply, err error) {
	e.reply, e.err = reply, err
	r.mu.Lock()
	if err != nil {
		delete(r.m, eventID)
	} else {
		if old := r.ring[r.next]; old != "" {
			delete(r.m, old)
		}
		r.ring[r.next] = eventID
		r.next = (r.next + 1) % len(r.ring)
	}
	r.mu.Unlock()
	close(e.done)
}
