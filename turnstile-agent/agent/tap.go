package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vnpass/vnpass/proto"
)

// Result is what became of one tap.
type Result struct {
	// EventID is the id the tap was published under; empty if nothing was
	// published (no match, matcher failure).
	EventID string
	// Decision is the cloud's decision, or, when Local is set, the one the
	// gate made by itself.
	Decision proto.Decision
	// Local is set when the gate decided without the cloud: no match
	// (proto.ReasonAssertionInvalid with DisplayNoMatch), expired assertion,
	// timeout (proto.ReasonTimeout) or a failure (proto.ReasonInternal).
	Local bool
	// TimedOut is set when no decision came within the decision timeout.
	TimedOut bool
	// Latency runs from publishing the tap to receiving its decision.
	Latency time.Duration
	// MatchLatency is the time the Matcher took.
	MatchLatency time.Duration
}

// Tap handles one face capture at this gate and drives the gate with the
// outcome: match the face to a VNeID assertion, publish the tap QoS 1, wait
// up to the decision timeout for the decision carrying its event id, then
// open or refuse with the decision's display. The gate always ends up either
// opened or refused, whatever happens.
//
// A face with no match, an expired assertion and a timeout are outcomes, not
// errors: the Result says what happened (and the agent logs it). Tap returns
// an error, for the caller to log, with a Result whose Decision refuses with
// proto.ReasonInternal when the matcher or the uplink fails or ctx ends. Tap
// is safe for concurrent use; it starts no goroutine.
func (a *Agent) Tap(ctx context.Context, faceRef, plate string) (Result, error) {
	a.stats.taps.Add(1)
	var res Result
	if a.closed.Load() {
		return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), ErrClosed
	}
	a.connMu.Lock()
	up := a.up
	a.connMu.Unlock()
	if up == nil {
		a.stats.uplinkErrors.Add(1)
		return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), ErrNotConnected
	}

	start := time.Now()
	assertion, expiresAt, err := a.cfg.Matcher.Match(ctx, faceRef, a.cfg.Device)
	res.MatchLatency = time.Since(start)
	now := a.cfg.Now()
	switch {
	case errors.Is(err, ErrNoMatch):
		a.stats.noMatch.Add(1)
		a.log.Info("face not matched", "reason", proto.ReasonAssertionInvalid, "match_ms", ms(res.MatchLatency))
		return a.refuse(res, proto.ReasonAssertionInvalid, DisplayNoMatch), nil
	case err != nil:
		a.stats.matchErrors.Add(1)
		return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), fmt.Errorf("agent: match: %w", err)
	case !expiresAt.IsZero() && !expiresAt.After(now):
		// The cloud would refuse it anyway; spare the round trip.
		a.log.Warn("assertion expired before publishing", "reason", proto.ReasonAssertionExpired, "match_ms", ms(res.MatchLatency))
		return a.refuse(res, proto.ReasonAssertionExpired, proto.ReasonAssertionExpired.Display()), nil
	}

	tap := proto.Tap{
		EventID:    proto.NewEventID(now),
		Device:     a.cfg.Device,
		Site:       a.cfg.Site,
		Kind:       a.cfg.Kind,
		Assertion:  assertion,
		CapturedAt: proto.At(now),
		Plate:      plate,
	}
	payload, err := tap.Encode()
	if err != nil {
		a.stats.uplinkErrors.Add(1)
		return a.refuse(res, proto.ReasonInternal, proto.ReasonInternal.Display()), fmt.Errorf("agent: %w", err)
	}
	res.EventID = tap.EventID

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

// ms is a duration in milliseconds, with a fraction, for logs.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
