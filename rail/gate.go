package rail

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/proto"
)

// Record is a rail tap as the store records it.
type Record struct {
	Tap        proto.Tap
	ReceivedAt time.Time
	Subject    string // empty when the assertion did not verify
	JTI        string
	ExpiresAt  time.Time
}

// Outcome is what a decision does: the bytes sent to the gate and, when it
// opens on a ticket, the ticket to mark used.
type Outcome struct {
	Reason   proto.Reason
	Decision []byte
	Use      *Ticket
}

// Store records rail taps exactly once by event id. AdmitRail, in one
// transaction: a tap already recorded returns its stored decision (dup);
// otherwise it claims rec.JTI (replayed is true when another tap holds
// it), loads the subject's tickets locked, calls decide, marks
// Outcome.Use used (telling its issuer) and records the tap with
// Outcome.Decision.
type Store interface {
	AdmitRail(ctx context.Context, rec Record, decide func(tickets []Ticket, replayed bool) (Outcome, error)) (decision []byte, dup bool, err error)
}

// GateConfig configures a Gates handler. Zero durations take defaults.
type GateConfig struct {
	Network  *Network
	Verifier identity.Verifier
	Store    Store
	Topics   proto.Topics
	Now      func() time.Time
	// MaxTapAge is the gates' decision timeout: a tap decided later than
	// MaxTapAge-Budget after capture would reach a gate that gave up, and
	// would use the ticket for a passage the gate refused. Such a tap is
	// refused (tap_too_old) and uses nothing. Default 2 s, Budget 250 ms.
	MaxTapAge, Budget time.Duration
	// MaxClockSkew is how far in the future a capture time may be. Default 5 s.
	MaxClockSkew time.Duration
	// MaxOfflineAge is how old a tap a gate decided offline may be and still
	// be settled. Default 7 days.
	MaxOfflineAge time.Duration
}

// Gates decides taps of rail gates (proto.KindRailGate): the same contract
// as admission.Processor.Handle, with no fare.
type Gates struct{ cfg GateConfig }

// NewGates validates cfg.
func NewGates(cfg GateConfig) (*Gates, error) {
	if cfg.Network == nil || cfg.Verifier == nil || cfg.Store == nil {
		return nil, errors.New("rail: network, verifier and store are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxTapAge <= 0 {
		cfg.MaxTapAge = 2 * time.Second
	}
	if cfg.Budget <= 0 {
		cfg.Budget = 250 * time.Millisecond
	}
	if cfg.Budget >= cfg.MaxTapAge {
		return nil, errors.New("rail: budget must be below the maximum tap age")
	}
	if cfg.MaxClockSkew <= 0 {
		cfg.MaxClockSkew = 5 * time.Second
	}
	if cfg.MaxOfflineAge <= 0 {
		cfg.MaxOfflineAge = 7 * 24 * time.Hour
	}
	return &Gates{cfg: cfg}, nil
}

// Handle decodes a rail tap from topic, decides it, records it once and
// returns the decision to publish. An error wrapping proto.ErrMalformed:
// drop the message; any other error: the tap was not recorded, do not
// acknowledge it.
func (g *Gates) Handle(ctx context.Context, topic string, payload []byte) (admission.Reply, error) {
	t, err := proto.DecodeTap(payload)
	if err != nil {
		return admission.Reply{}, err
	}
	_, site, device, err := g.cfg.Topics.Parse(topic)
	if err != nil || site != t.Site || device != t.Device {
		return admission.Reply{}, fmt.Errorf("%w: tap for %s/%s arrived on topic %q", proto.ErrMalformed, t.Site, t.Device, topic)
	}
	rec := Record{Tap: t, ReceivedAt: g.cfg.Now()}
	st, known := g.cfg.Network.Gate(t.Device, t.Site)
	var refuse proto.Reason
	switch {
	case t.Kind != proto.KindRailGate:
		refuse = proto.ReasonWrongKind
	case t.Offline == nil && g.tooOld(t, rec.ReceivedAt):
		refuse = proto.ReasonTapTooOld
	case t.Offline != nil && rec.ReceivedAt.Sub(t.CapturedAt.Time) > g.cfg.MaxOfflineAge:
		refuse = proto.ReasonTapTooOld
	case t.CapturedAt.Sub(rec.ReceivedAt) > g.cfg.MaxClockSkew:
		refuse = proto.ReasonDeviceClock
	case !known:
		refuse = proto.ReasonUnknownSite
	}
	if refuse == "" {
		a, err := g.verify(ctx, t)
		if err != nil {
			refuse = assertionReason(err)
		} else {
			rec.Subject, rec.JTI, rec.ExpiresAt = a.Subject, a.JTI, a.ExpiresAt
		}
	}
	var reason proto.Reason
	decide := func(tickets []Ticket, replayed bool) (Outcome, error) {
		now := g.cfg.Now()
		var use *Ticket
		r := refuse
		switch {
		case r != "":
		case replayed:
			r = proto.ReasonAssertionReplayed
		case t.Offline == nil && g.tooOld(t, now):
			// Checked again after the store's locks: waiting for them is
			// where a tap grows old.
			r = proto.ReasonTapTooOld
		case t.Offline != nil && !t.Offline.Open:
			// The gate stayed shut: nothing to settle.
			r = t.Offline.Reason
		case t.Offline != nil:
			// The gate let the rider through: the ticket valid then is
			// used, the one the gate opened on if it still is.
			r, use = DecideOffline(tickets, st, t.CapturedAt.Time, t.Offline.TicketID)
		default:
			r, use = Decide(tickets, st, now)
		}
		reason = r
		d := proto.Decision{V: 1, EventID: t.EventID, Open: r == proto.ReasonOK, Reason: r, Display: Display(r, use), DecidedAt: proto.At(now)}
		if t.Offline != nil && t.Offline.Open {
			// Recorded as what happened: the gate opened.
			d.Open = true
		}
		if d.Open && r != proto.ReasonOK {
			// A decision that opens carries ok; the gate's own record keeps why.
			d.Reason, d.Display = proto.ReasonOK, proto.ReasonOK.Display()
		}
		b, err := d.Encode()
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Reason: r, Decision: b, Use: use}, nil
	}
	out, dup, err := g.cfg.Store.AdmitRail(ctx, rec, decide)
	if err != nil {
		return admission.Reply{}, fmt.Errorf("rail: tap %s: %w", t.EventID, err)
	}
	rep := admission.Reply{Topic: g.cfg.Topics.Decisions(t.Site, t.Device), EventID: t.EventID, Payload: out, Dup: dup}
	if !dup {
		rep.Reason = reason
	}
	return rep, nil
}

func (g *Gates) tooOld(t proto.Tap, now time.Time) bool {
	return now.Sub(t.CapturedAt.Time) > g.cfg.MaxTapAge-g.cfg.Budget
}

func (g *Gates) verify(ctx context.Context, t proto.Tap) (identity.Assertion, error) {
	if t.Offline != nil {
		if va, ok := g.cfg.Verifier.(identity.VerifierAt); ok {
			return va.VerifyAt(ctx, t.Assertion, t.Device, t.CapturedAt.Time)
		}
	}
	return g.cfg.Verifier.Verify(ctx, t.Assertion, t.Device)
}

func assertionReason(err error) proto.Reason {
	switch {
	case errors.Is(err, identity.ErrAssertionExpired):
		return proto.ReasonAssertionExpired
	case errors.Is(err, identity.ErrAssertionNotYetValid):
		return proto.ReasonAssertionNotYetValid
	case errors.Is(err, identity.ErrAssertionWrongDevice):
		return proto.ReasonAssertionWrongDevice
	default:
		return proto.ReasonAssertionInvalid
	}
}
