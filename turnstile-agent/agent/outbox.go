package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/turnstile-agent/queue"
)

// The outbox: how queued taps reach the cloud.
//
// Every tap, online or offline, is appended to the queue (fsynced) before
// the gate does anything with it. One drain sends the queue's records in
// order, paced at the drain rate, with at most Window of them sent and not
// yet decided. A decision that comes back for an event id acknowledges its
// record; acknowledgements are written to the queue in groups. A record
// leaves the queue only then: a crash, a cut link or a fare service that is
// away loses nothing, and whatever was sent and not answered is sent again,
// under the same event id, which the cloud settles once:
//
//   - after every reconnect the drain starts again from the oldest record
//     not yet decided;
//   - while connected, if taps were sent and no decision at all has come
//     back for ResendAfter, the drain starts again too (the fare service was
//     away and the broker dropped them, as it does with no subscriber);
//   - and if one tap has gone unanswered for LoneResendAfter (6 ×
//     ResendAfter) while others are answered: the fare service gave up on it (a tap its
//     database refused for 30 s, services/tapmqtt) or a replica that held
//     it stopped. Without this it waited for the next reconnect, which may
//     be days, and a held exit could come back after its journey had been
//     settled without it.

// errStalled ends a drain whose taps go unanswered, to start again.
var errStalled = errors.New("agent: no decision for the taps sent")

// runDrain drains the queue while the link is up, one drain per session,
// until the agent closes.
func (a *Agent) runDrain() {
	st := a.st
	for {
		select {
		case <-st.quit:
			return
		default:
		}
		a.connMu.Lock()
		client := a.client
		a.connMu.Unlock()
		if client == nil || !st.linkUp.Load() {
			select {
			case <-st.quit:
				return
			case <-st.kick:
			}
			continue
		}
		a.configMu.Lock()
		rate := st.drainRate
		a.configMu.Unlock()
		ctx, cancel := context.WithCancelCause(context.Background())
		st.genMu.Lock()
		st.genCancel = func() { cancel(context.Canceled) }
		st.genMu.Unlock()
		st.win.reset()
		done := make(chan struct{})
		go a.watchStall(ctx, cancel, done)
		err := st.q.Drain(ctx, queue.DrainOptions{Rate: float64(rate), Batch: 64},
			func(ctx context.Context, recs []queue.Record) error { return a.sendBatch(ctx, client, recs) })
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		cancel(context.Canceled)
		close(done)
		switch {
		case errors.Is(err, queue.ErrClosed):
			return
		case errors.Is(err, errStalled):
			a.stats.resends.Add(1)
			a.log.Warn("no decision for the taps sent; sending again from the oldest", "queue_depth", st.q.Len(),
				"resend_after_ms", a.cfg.ResendAfter.Milliseconds())
		case err != nil && !errors.Is(err, context.Canceled):
			a.log.Warn("drain stopped", "error", err)
		}
		// A short pause, so that a link that fails at once is not spun on.
		select {
		case <-st.quit:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// cancelDrain ends the drain in progress; runDrain starts another if the
// link is up.
func (a *Agent) cancelDrain() {
	st := a.st
	if st == nil {
		return
	}
	st.genMu.Lock()
	if st.genCancel != nil {
		st.genCancel()
	}
	st.genMu.Unlock()
	select {
	case st.kick <- struct{}{}:
	default:
	}
}

// watchStall cancels the drain when taps sent go unanswered (see above).
func (a *Agent) watchStall(ctx context.Context, cancel context.CancelCauseFunc, done <-chan struct{}) {
	t := time.NewTicker(min(a.cfg.ResendAfter, a.cfg.LoneResendAfter) / 4)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			now := time.Now()
			oldest, ok := a.st.win.oldest()
			last := time.Unix(0, a.st.lastDecision.Load())
			if ok && (now.Sub(oldest) > a.cfg.ResendAfter && now.Sub(last) > a.cfg.ResendAfter ||
				now.Sub(oldest) > a.cfg.LoneResendAfter) {
				cancel(errStalled)
				return
			}
		}
	}
}

// sendBatch publishes one batch of queued taps, QoS 1, and waits for the
// broker to take them.
func (a *Agent) sendBatch(ctx context.Context, c mqtt.Client, recs []queue.Record) error {
	st := a.st
	toks := make([]mqtt.Token, 0, len(recs))
	for _, r := range recs {
		if !a.checkQueued(r) {
			a.settled(r.ID)
			continue
		}
		if err := st.win.wait(ctx, a.cfg.Window); err != nil {
			return err
		}
		if !c.IsConnectionOpen() {
			return ErrNotConnected
		}
		st.win.add(r.ID, time.Now())
		toks = append(toks, c.Publish(a.tapsTopic, 1, false, r.Payload))
	}
	timeout := time.NewTimer(setupTimeout)
	defer timeout.Stop()
	for _, tok := range toks {
		select {
		case <-tok.Done():
			if err := tok.Error(); err != nil {
				return fmt.Errorf("publish queued tap: %w", err)
			}
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-timeout.C:
			return fmt.Errorf("publish queued taps: no PUBACK within %v", setupTimeout)
		}
	}
	a.stats.sent.Add(uint64(len(toks)))
	return nil
}

// settled takes a tap's record out of the queue once its decision is in:
// its acknowledgement is written with the next group.
func (a *Agent) settled(id string) {
	st := a.st
	a.mu.Lock()
	delete(st.undecided, id)
	a.mu.Unlock()
	st.win.done(id)
	st.acks.add(id)
}

// runAcks writes acknowledgements in groups: one fsync of the ack log for
// all the decisions that came in while the previous one was written.
func (a *Agent) runAcks() {
	st := a.st
	for {
		select {
		case <-st.quit:
			return
		case <-st.acks.ready:
			a.flushAcks()
		}
	}
}

func (a *Agent) flushAcks() {
	ids := a.st.acks.take()
	if len(ids) == 0 {
		return
	}
	if err := a.st.q.Ack(ids...); err != nil {
		// The records stay queued and are sent again later; the cloud
		// answers a repeat with the decision it made.
		a.stats.queueErrors.Add(1)
		a.log.Warn("queue: acknowledgements not written; those taps will be sent again", "taps", len(ids), "error", err)
	}
}

// ackBuffer collects decided event ids for runAcks. add never blocks: the
// MQTT handler calls it.
type ackBuffer struct {
	mu    sync.Mutex
	ids   []string
	ready chan struct{} // room for one
}

func (b *ackBuffer) add(id string) {
	b.mu.Lock()
	b.ids = append(b.ids, id)
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

func (b *ackBuffer) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := b.ids
	b.ids = nil
	return ids
}

// window is the taps sent and not yet decided in the current drain.
type window struct {
	mu   sync.Mutex
	sent map[string]time.Time
	free chan struct{} // room for one: a place came free
}

func (w *window) add(id string, at time.Time) {
	w.mu.Lock()
	w.sent[id] = at
	w.mu.Unlock()
}

func (w *window) done(id string) {
	w.mu.Lock()
	_, ok := w.sent[id]
	delete(w.sent, id)
	w.mu.Unlock()
	if ok {
		select {
		case w.free <- struct{}{}:
		default:
		}
	}
}

func (w *window) reset() {
	w.mu.Lock()
	clear(w.sent)
	w.mu.Unlock()
}

func (w *window) oldest() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var o time.Time
	for _, at := range w.sent {
		if o.IsZero() || at.Before(o) {
			o = at
		}
	}
	return o, !o.IsZero()
}

// wait returns once fewer than max taps are in the window.
func (w *window) wait(ctx context.Context, max int) error {
	for {
		w.mu.Lock()
		n := len(w.sent)
		w.mu.Unlock()
		if n < max {
			return nil
		}
		select {
		case <-w.free:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// runHeartbeat republishes the status while connected, so that the fleet
// view sees queue depth, clock offset and offline counts move. It also
// reports damage the queue found on disk while running (a record that no
// longer reads back is skipped by the queue).
func (a *Agent) runHeartbeat() {
	st := a.st
	damaged := st.q.Stats().CorruptRecords
	for {
		a.configMu.Lock()
		every := st.heartbeat
		a.configMu.Unlock()
		select {
		case <-st.quit:
			return
		case <-time.After(every):
		}
		if n := st.q.Stats().CorruptRecords; n > damaged {
			damaged = n
			a.log.Error("queue: damaged records found on disk and skipped", "corrupt_records", n, "error", st.q.Damage())
		}
		if st.linkUp.Load() {
			a.publishStatus()
		}
	}
}

// publishStatus publishes the device's online status, retained.
func (a *Agent) publishStatus() {
	a.connMu.Lock()
	c := a.client
	a.connMu.Unlock()
	if c == nil || !c.IsConnectionOpen() {
		return
	}
	payload, err := a.status(proto.StateOnline)
	if err != nil {
		a.log.Error("status does not encode", "error", err)
		return
	}
	tok := c.Publish(a.statusTopic, 1, true, payload)
	if !tok.WaitTimeout(writeTimeout) {
		a.log.Warn("status not acknowledged in time")
		return
	}
	if err := tok.Error(); err != nil {
		a.log.Warn("status not published", "error", err)
	}
}
