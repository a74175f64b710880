package agent

import "github.com/vnpass/vnpass/proto"

// await registers a tap waiting for the decision on event id. The channel
// has room for exactly one decision, so the handler never blocks on it.
func (a *Agent) await(id string) chan proto.Decision {
	ch := make(chan proto.Decision, 1)
	a.mu.Lock()
	a.pending[id] = ch
	a.mu.Unlock()
	return ch
}

// abandon unregisters a tap that stops waiting. It reports false if the
// decision handler got there first, in which case the decision is already in
// the tap's channel.
func (a *Agent) abandon(id string) bool {
	a.mu.Lock()
	_, ok := a.pending[id]
	delete(a.pending, id)
	a.mu.Unlock()
	return ok
}

// onDecision hands a decision to the tap waiting for it. A decision nobody
// waits for (a QoS 1 duplicate, or one that came after the tap timed out) is
// counted and ignored: the gate has already acted on that tap.
func (a *Agent) onDecision(payload []byte) {
	d, err := proto.DecodeDecision(payload)
	if err != nil {
		a.stats.malformedDecisions.Add(1)
		// The error says what is wrong; the payload itself is not logged.
		a.log.Warn("malformed decision dropped", "bytes", len(payload), "error", err)
		return
	}
	a.mu.Lock()
	ch, ok := a.pending[d.EventID]
	if ok {
		delete(a.pending, d.EventID)
		ch <- d // never blocks: room for one, and only the remover sends
	}
	a.mu.Unlock()
	if !ok {
		a.stats.strayDecisions.Add(1)
		a.log.Info("late or duplicate decision ignored", "event_id", d.EventID, "reason", d.Reason)
	}
}
