package agent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vnpass/vnpass/proto"
)

// Result is what became of one tap.
type Result struct {
	// EventID is the id the tap was published (or queued) under; empty if
	// there was no tap (no match, matcher failure). When the cloud did not
	// answer in time and the gate decided offline, it is the id of the
	// offline tap.
	EventID string
	// Decision is the cloud's decision, or, when Local is set, the one the
	// gate made by itself.
	Decision proto.Decision
	// Local is set when the gate decided without the cloud: no match
	// (proto.ReasonAssertionInvalid with DisplayNoMatch), expired assertion,
	// timeout (proto.ReasonTimeout), a failure (proto.ReasonInternal), or
	// an offline decision (Offline).
	Local bool
	// Offline is set when the gate decided by itself under its offline
	// policy; Decision.Reason and the tap's proto.OfflineDecision say how.
	Offline bool
	// TimedOut is set when no decision came within the decision timeout.
	TimedOut bool
	// Latency runs from publishing the tap to receiving its decision.
	Latency time.Duration
	// MatchLatency is the time the Matcher took.
	MatchLatency time.Duration
}

// Tap handles one face capture at this gate and drives the gate with the
// outcome: match the face to a VNeID assertion, send the tap, wait up to the
// decision timeout for the decision carrying its event id, then open or
// refuse with the decision's display. The gate always ends up either
// opened or refused, whatever happens.
//
// With a state directory the tap is queued on disk first, and when the
// cloud cannot answer in time the gate decides offline (see offline.go):
// at once while the broker is unreachable or the cloud has stopped
// answering, and after the decision timeout otherwise. A tap that waited in
// vain is given up, not decided offline: its copy may yet reach the cloud,
// which then refuses it as too old or decides it; the offline decision is
// made on a new tap from the same capture, with a new assertion, as if the
// rider had tapped again, which the cloud already handles (a retap within
// two minutes is never charged twice). One event id is thus never both
// online and offline.
//
// A face with no match, an expired assertion and a timeout are outcomes, not
// errors: the Result says what happened (and the agent logs it). Tap returns
// an error, for the caller to log, with a Result whose Decision refuses with
// proto.ReasonInternal when the matcher or the uplink fails or ctx ends. Tap
// is safe for concurrent use.
func (a *Agent) Tap(ctx context.Context, faceRef, plate string) (Result, error) {
	a.stats.taps.Add(1)
	var res Result
	if a.closed.Load() {
		return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), ErrClosed
	}
	var up uplink
	if a.st == nil {
		a.connMu.Lock()
		up = a.up
		a.connMu.Unlock()
		if up == nil {
			a.stats.uplinkErrors.Add(1)
			return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), ErrNotConnected
		}
	}

	tap, res, done, err := a.capture(ctx, res, faceRef, plate)
	if done {
		return res, err
	}
	if a.st == nil {
		return a.tapDirect(ctx, res, up, tap)
	}
	if !a.online() {
		return a.tapOffline(ctx, res, tap)
	}
	res, timedOut, err := a.tapOnline(ctx, res, tap)
	if !timedOut {
		return res, err
	}
	// No answer in time: decide on a new tap from the same capture.
	res.TimedOut = true
	tap, res, done, err = a.capture(ctx, res, faceRef, plate)
	if done {
		return res, err
	}
	return a.tapOffline(ctx, res, tap)
}

// capture matches the face and builds the tap. done says the gate has been
// driven already (no match, matcher failure, expired assertion).
func (a *Agent) capture(ctx context.Context, res Result, faceRef, plate string) (proto.Tap, Result, bool, error) {
	start := time.Now()
	assertion, expiresAt, err := a.cfg.Matcher.Match(ctx, faceRef, a.cfg.Device)
	res.MatchLatency += time.Since(start)
	now := a.cfg.Now()
	switch {
	case errors.Is(err, ErrNoMatch):
		a.stats.noMatch.Add(1)
		a.log.Info("face not matched", "reason", proto.ReasonAssertionInvalid, "match_ms", ms(res.MatchLatency))
		return proto.Tap{}, a.refuse(res, proto.ReasonAssertionInvalid, DisplayNoMatch), true, nil
	case err != nil && res.TimedOut:
		// The second match, after a timeout: the rider is told the system
		// is busy, as without offline mode.
		a.stats.matchErrors.Add(1)
		return proto.Tap{}, a.refuse(res, proto.ReasonTimeout, proto.ReasonTimeout.Display()), true, fmt.Errorf("agent: match: %w", err)
	case err != nil:
		a.stats.matchErrors.Add(1)
		return proto.Tap{}, a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), true, fmt.Errorf("agent: match: %w", err)
	case !expiresAt.IsZero() && !expiresAt.After(now):
		// The cloud would refuse it anyway; spare the round trip.
		a.log.Warn("assertion expired before publishing", "reason", proto.ReasonAssertionExpired, "match_ms", ms(res.MatchLatency))
		return proto.Tap{}, a.refuse(res, proto.ReasonAssertionExpired, proto.ReasonAssertionExpired.Display()), true, nil
	}
	tap := proto.Tap{
		EventID:    proto.NewEventID(now),
		Device:     a.cfg.Device,
		Site:       a.cfg.Site,
		Kind:       a.cfg.Kind,
		Assertion:  assertion,
		CapturedAt: proto.At(now),
	}
	if parkingKind(a.cfg.Kind) {
		// Only barriers have plate readers: a plate handed to another
		// kind of gate is not the rider's business there.
		tap.Plate = plate
	}
	res.EventID = tap.EventID
	return tap, res, false, nil
}

// online reports whether a new tap should wait for the cloud: the link is
// up, the cloud answered the last tap that waited, and nothing older is
// waiting in the queue for its decision (a live tap would be sent behind it
// and wait its turn past the decision timeout).
func (a *Agent) online() bool {
	st := a.st
	if !st.linkUp.Load() || !st.responsive.Load() {
		return false
	}
	a.mu.Lock()
	backlog := len(st.undecided) - len(a.pending)
	a.mu.Unlock()
	return backlog <= 0
}

// tapOnline queues the tap, lets the drain send it and waits for the
// cloud's decision. timedOut says no usable decision came in time: the tap
// is given up and the caller decides offline on a new one.
func (a *Agent) tapOnline(ctx context.Context, res Result, tap proto.Tap) (Result, bool, error) {
	payload, err := tap.Encode()
	if err != nil {
		a.stats.uplinkErrors.Add(1)
		return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), false, fmt.Errorf("agent: %w", err)
	}
	decided := a.await(tap.EventID)
	sent, sentWall := time.Now(), a.cfg.Now()
	if err := a.st.q.Append(tap.EventID, payload); err != nil {
		a.unqueue(tap.EventID)
		a.stats.queueErrors.Add(1)
		return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), false, fmt.Errorf("agent: queue tap %s: %w", tap.EventID, err)
	}
	timeout := a.DecisionTimeout()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var d proto.Decision
	select {
	case d = <-decided:
	case <-timer.C:
		if a.abandon(tap.EventID) {
			a.stats.timeouts.Add(1)
			a.st.responsive.Store(false)
			a.log.Warn("no decision in time; deciding offline", "event_id", tap.EventID, "reason", proto.ReasonTimeout, "timeout_ms", ms(timeout))
			return res, true, nil
		}
		d = <-decided
	case <-ctx.Done():
		if a.abandon(tap.EventID) {
			return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), false, fmt.Errorf("agent: tap %s: %w", tap.EventID, ctx.Err())
		}
		d = <-decided
	}
	if d.Reason == proto.ReasonTapTooOld {
		// The cloud says the tap reached it too late: as a timeout.
		a.stats.timeouts.Add(1)
		a.st.responsive.Store(false)
		a.log.Warn("tap reached the cloud too late; deciding offline", "event_id", tap.EventID)
		return res, true, nil
	}
	latency := time.Since(sent)
	if latency < time.Second {
		// The cloud decided between our send and receive: its clock
		// minus ours, to a few milliseconds.
		mid := sentWall.Add(latency / 2)
		a.st.clockOffset.Store(d.DecidedAt.Sub(mid).Milliseconds())
		a.st.clockKnown.Store(true)
	}
	res = a.decided(res, d, sent)
	if d.Open && entryKind(tap.Kind) {
		if sub := subjectOf(tap.Assertion); sub != "" {
			// A rail gate the cloud opened used the rider's ticket for
			// now: the one the gate would have opened on offline.
			var ticket int64
			if tap.Kind == proto.KindRailGate {
				ticket = a.ticketNow(sub, tap.CapturedAt.Time)
			}
			if err := a.st.entries.add(sub, tap.CapturedAt.Time, false, ticket); err != nil {
				a.log.Warn("entry not recorded", "error", err)
			}
		}
	}
	return res, false, nil
}

// tapOffline decides the tap here, queues it with the decision, and drives
// the gate. The tap is on disk before the gate opens: what the gate let
// through always reaches the cloud.
func (a *Agent) tapOffline(ctx context.Context, res Result, tap proto.Tap) (Result, error) {
	st := a.st
	st.offlineMu.Lock()
	od, sub, ticket := a.judge(ctx, tap)
	tap.Offline = &od
	payload, err := tap.Encode()
	if err == nil {
		a.mu.Lock()
		st.undecided[tap.EventID] = struct{}{}
		a.mu.Unlock()
		if err = st.q.Append(tap.EventID, payload); err != nil {
			a.unqueue(tap.EventID)
			a.stats.queueErrors.Add(1)
		}
	}
	if err != nil {
		st.offlineMu.Unlock()
		return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), fmt.Errorf("agent: queue offline tap %s: %w", tap.EventID, err)
	}
	if od.Open && entryKind(tap.Kind) {
		if err := st.entries.add(sub, tap.CapturedAt.Time, true, od.TicketID); err != nil {
			a.log.Error("offline entry not recorded: the day's limit may be exceeded", "error", err)
		}
	}
	st.offlineMu.Unlock()

	res.Local, res.Offline = true, true
	res.Decision = proto.Decision{V: proto.Version, EventID: tap.EventID, Open: od.Open, Reason: od.Reason, DecidedAt: od.DecidedAt}
	if od.Open {
		res.Decision.Display = DisplayOfflineOpen
		if ticket != nil {
			res.Decision.Display = railOfflineDisplay(*ticket)
		}
		a.stats.opened.Add(1)
		a.stats.offlineOpened.Add(1)
		a.cfg.Gate.Open(res.Decision.Display)
	} else {
		res.Decision.Display = od.Reason.Display()
		a.stats.refused.Add(1)
		a.stats.offlineRefused.Add(1)
		a.cfg.Gate.Refuse(res.Decision.Display)
	}
	a.log.Info("tap decided offline", "event_id", tap.EventID, "open", od.Open, "reason", od.Reason, "rule", od.Rule,
		"deny_list_version", od.DenyListVersion, "tickets_version", od.TicketsVersion, "ticket_id", od.TicketID,
		"match_ms", ms(res.MatchLatency))
	return res, nil
}

// tapDirect is the tap without a state directory: published straight to the
// broker, refused if no decision comes in time.
func (a *Agent) tapDirect(ctx context.Context, res Result, up uplink, tap proto.Tap) (Result, error) {
	payload, err := tap.Encode()
	if err != nil {
		a.stats.uplinkErrors.Add(1)
		return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), fmt.Errorf("agent: %w", err)
	}
	// Register before publishing: the decision can come back before paho has
	// even reported the PUBACK.
	decided := a.await(tap.EventID)
	timeout := a.DecisionTimeout()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	sent := time.Now()
	del := up.send(tap, payload)
	acked := del.Done()
	for {
		select {
		case <-acked:
			if err := del.Error(); err != nil {
				if !a.abandon(tap.EventID) {
					return a.decided(res, <-decided, sent), nil
				}
				a.stats.uplinkErrors.Add(1)
				return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), fmt.Errorf("agent: publish tap %s: %w", tap.EventID, err)
			}
			acked = nil // PUBACK in; keep waiting for the decision
		case d := <-decided:
			return a.decided(res, d, sent), nil
		case <-timer.C:
			if !a.abandon(tap.EventID) {
				return a.decided(res, <-decided, sent), nil
			}
			a.stats.timeouts.Add(1)
			res.TimedOut = true
			res.Latency = time.Since(sent)
			a.log.Warn("no decision in time", "event_id", tap.EventID, "reason", proto.ReasonTimeout, "timeout_ms", ms(timeout))
			return a.refuse(res, proto.ReasonTimeout, proto.ReasonTimeout.Display()), nil
		case <-ctx.Done():
			if !a.abandon(tap.EventID) {
				return a.decided(res, <-decided, sent), nil
			}
			return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), fmt.Errorf("agent: tap %s: %w", tap.EventID, ctx.Err())
		}
	}
}

// decided drives the gate with the cloud's decision.
func (a *Agent) decided(res Result, d proto.Decision, sent time.Time) Result {
	res.Latency = time.Since(sent)
	res.Decision = d
	if d.Open {
		a.stats.opened.Add(1)
		a.cfg.Gate.Open(d.Display)
	} else {
		a.stats.refused.Add(1)
		a.cfg.Gate.Refuse(d.Display)
	}
	a.log.Info("tap decided", "event_id", d.EventID, "open", d.Open, "reason", d.Reason,
		"latency_ms", ms(res.Latency), "match_ms", ms(res.MatchLatency))
	return res
}

// refuse keeps the gate closed on a decision the gate made by itself.
func (a *Agent) refuse(res Result, r proto.Reason, d proto.Display) Result {
	res.Local = true
	res.Decision = proto.Decision{
		V:         proto.Version,
		EventID:   res.EventID,
		Reason:    r,
		Display:   d,
		DecidedAt: proto.At(a.cfg.Now()),
	}
	a.stats.refused.Add(1)
	a.cfg.Gate.Refuse(d)
	return res
}

// subjectOf reads the sub claim of an assertion without verifying it: the
// cloud verified it, and opened the gate on it. "" if it cannot be read.
func subjectOf(assertion string) string {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(b, &c) != nil || len(c.Sub) > 256 {
		return ""
	}
	return c.Sub
}

// ms is a duration in milliseconds, with a fraction, for logs.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
