package agent

import (
	"sync/atomic"
	"time"

	"github.com/vnpass/vnpass/proto"
)

// await registers a tap waiting for the decision on event id (and, with a
// state directory, as queued and not yet decided). The channel has room for
// exactly one decision, so the handler never blocks on it.
func (a *Agent) await(id string) chan proto.Decision {
	ch := make(chan proto.Decision, 1)
	a.mu.Lock()
	a.pending[id] = ch
	if a.st != nil {
		a.st.undecided[id] = struct{}{}
	}
	a.mu.Unlock()
	return ch
}

// abandon unregisters a tap that stops waiting. It reports false if the
// decision handler got there first, in which case the decision is already in
// the tap's channel. A queued tap stays queued: its decision is still owed.
func (a *Agent) abandon(id string) bool {
	a.mu.Lock()
	_, ok := a.pending[id]
	delete(a.pending, id)
	a.mu.Unlock()
	return ok
}

// unqueue forgets a tap that could not be queued.
func (a *Agent) unqueue(id string) {
	a.mu.Lock()
	delete(a.pending, id)
	delete(a.st.undecided, id)
	a.mu.Unlock()
}

// afterDelivery, set by tests only, runs once a waiting tap has its
// decision, before the rest of onDecision: what the tap sees then must not
// depend on how soon onDecision finishes.
var afterDelivery atomic.Pointer[func()]

// onDecision hands a decision to the tap waiting for it. With a state
// directory every decision is also the acknowledgement of its tap's record
// in the queue. A decision nobody waits for is counted and otherwise
// ignored: a queued tap's (decided offline, or sent again after a restart,
// or given up at the timeout), or a QoS 1 duplicate; the gate has acted on
// that tap already.
func (a *Agent) onDecision(payload []byte) {
	d, err := proto.DecodeDecision(payload)
	if err != nil {
		a.stats.malformedDecisions.Add(1)
		// The error says what is wrong; the payload itself is not logged.
		a.log.Warn("malformed decision dropped", "bytes", len(payload), "error", err)
		return
	}
	st := a.st
	if st != nil {
		st.lastDecision.Store(time.Now().UnixNano())
		st.responsive.Store(true)
	}
	a.mu.Lock()
	ch, ok := a.pending[d.EventID]
	queued := false
	if st != nil {
		// Out of the undecided set before the waiting tap hears of it:
		// otherwise the gate's next tap, made the moment this one
		// returns, could count it as a backlog and go offline (seen in
		// TestAgentKilledMidStream: a rider refused offline_unavailable
		// with the cloud answering).
		_, queued = st.undecided[d.EventID]
		delete(st.undecided, d.EventID)
	}
	if ok {
		delete(a.pending, d.EventID)
		ch <- d // never blocks: room for one, and only the remover sends
	}
	a.mu.Unlock()
	if f := afterDelivery.Load(); ok && f != nil {
		(*f)()
	}
	if st != nil {
		// Unknown ids cost the queue nothing: a duplicate of a decision
		// already written is ignored there.
		st.win.done(d.EventID)
		st.acks.add(d.EventID)
	}
	switch {
	case ok:
	case queued:
		a.stats.settled.Add(1)
		a.log.Debug("queued tap settled", "event_id", d.EventID, "reason", d.Reason)
	default:
		a.stats.strayDecisions.Add(1)
		a.log.Info("late or duplicate decision ignored", "event_id", d.EventID, "reason", d.Reason)
	}
}
