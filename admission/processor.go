package admission

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/proto"
)

// Config of a Processor.
type Config struct {
	Verifier identity.Verifier
	Fares    Fares
	Store    Store
	Topics   proto.Topics
	Now      func() time.Time
	// MaxTapAge is how old a tap may be when it is decided: the gate's
	// decision timeout. A gate has refused a rider by then, so deciding an
	// older tap would charge for an entry the gate did not allow (paho
	// re-sends a publish that was in flight when the link dropped). Such a
	// tap is recorded and refused. Default 2 s, the agent's default.
	MaxTapAge time.Duration
	// Budget is the time kept back from MaxTapAge for committing,
	// publishing and delivering the decision: a tap decided later than
	// MaxTapAge-Budget after capture would reach the gate after it gave up.
	// Default 250 ms.
	Budget time.Duration
	// MaxClockSkew is how far in the future a tap's capture time may be
	// (the gate's clock ahead of ours). Default 5 s.
	MaxClockSkew time.Duration
	// MinTapInterval is the least time between a rider's tap one way and
	// the next tap the other way (an exit seconds after an entry, an entry
	// seconds after an exit): closer than that it is a second capture of the
	// same passage, not a journey, and is refused. Default 3 s.
	MinTapInterval time.Duration
	// RetapWindow is how long a repeated tap at the same station is taken
	// as the rider trying again (the first decision reached the gate too
	// late, or the rider did not see it): the gate opens again without a
	// second charge. Default 2 minutes.
	RetapWindow time.Duration
	// LateExitWindow is how long after its entry a journey closed for a
	// missing exit still takes that exit when it turns up (a gate that was
	// offline forwards it late, or the rider stayed past MaxJourney): the
	// journey is priced again and the difference refunded, instead of the
	// exit being charged as a second journey. Default 24 hours.
	LateExitWindow time.Duration
	// MaxJourney is how long a journey may stay open: the sweep closes it
	// at the maximum fare after that. Default 4 hours.
	MaxJourney time.Duration
	// PassBackWindow is how soon after a journey's entry an entry at
	// another station is refused as pass-back: too soon to have ridden,
	// left and come back in, so the same face twice is not one rider's
	// journey. Past it, the rider is plainly outside: the open journey
	// ended without an exit tap the cloud has (a gate let the rider out
	// uncharged, or its exit is still queued at an offline gate); it is
	// closed at the maximum fare for a missing exit and the new one opens,
	// and the exit, if it turns up, corrects it (lateExit). Refusing every
	// entry while a journey was open, as before, turned riders away at
	// station after station for up to MaxJourney (796 of them in the
	// five-minute gate outage drill). Default 5 minutes.
	PassBackWindow time.Duration
	// MaxOfflineAge is how old a tap decided offline may be when it
	// arrives and still be settled (default 7 days). Assertion ids must be
	// kept at least this long after they expire (PurgeAssertionUses).
	MaxOfflineAge time.Duration
	// DebtLimit is how much a post-paid rider whose collection was
	// declined may owe and still enter: above it, entry is refused
	// (in_debt) until the debt is paid. Default (zero) 30.000 ₫, about two
	// journeys; 1 ₫ makes any overdue debt block entry.
	DebtLimit decimal.Decimal
}

// Fares is what admission asks of the fare data (*fare.Table for one feed,
// *fare.Set for every city's).
type Fares interface {
	Stop(id string) (fare.Stop, bool)
	PriceFor(q fare.Query) (fare.Quote, error)
	MinFareFor(network, category string) decimal.Decimal
	MaxFareFor(network, category string) decimal.Decimal
	Category(r fare.Rider, network string) string
	Cap(network, category string, spentToday, spentThisMonth, fare decimal.Decimal) fare.CapResult
	Transfer(prev, next fare.Leg) (fare.TransferQuote, error)
}

// Processor turns tap payloads into decisions. It is safe for concurrent
// use; the Store serialises what must be serialised per rider.
type Processor struct {
	cfg    Config
	stats  Stats
	recent recent // taps decided or in decision here (recent.go)
}

// New validates cfg and returns a Processor.
func New(cfg Config) (*Processor, error) {
	if cfg.Verifier == nil || cfg.Fares == nil || cfg.Store == nil {
		return nil, errors.New("admission: verifier, fares and store are required")
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
		return nil, errors.New("admission: budget must be below the maximum tap age")
	}
	if cfg.MaxClockSkew <= 0 {
		cfg.MaxClockSkew = 5 * time.Second
	}
	if cfg.MinTapInterval <= 0 {
		cfg.MinTapInterval = 3 * time.Second
	}
	if cfg.RetapWindow <= 0 {
		cfg.RetapWindow = 2 * time.Minute
	}
	if cfg.MaxJourney <= 0 {
		cfg.MaxJourney = 4 * time.Hour
	}
	if cfg.PassBackWindow <= 0 {
		cfg.PassBackWindow = 5 * time.Minute
	}
	if cfg.MaxOfflineAge <= 0 {
		cfg.MaxOfflineAge = 7 * 24 * time.Hour
	}
	if !cfg.DebtLimit.IsPositive() {
		cfg.DebtLimit = decimal.NewFromInt(30000)
	}
	if cfg.LateExitWindow <= 0 {
		cfg.LateExitWindow = 24 * time.Hour
	}
	return &Processor{cfg: cfg}, nil
}

// Reply is a decision to publish to a device.
type Reply struct {
	Topic   string
	Payload []byte
	EventID string
	Reason  proto.Reason
	Dup     bool // the tap was seen before; Payload is the decision sent then
}

// Handle decodes one tap from topic, decides it, records it and returns the
// decision to send back. A payload that does not decode, or whose site and
// device differ from its topic's, returns an error wrapping
// proto.ErrMalformed: count it and drop it, there is nobody to answer.
// Any other error means the tap was not recorded; the caller must not
// acknowledge the message, so that the broker delivers it again.
func (p *Processor) Handle(ctx context.Context, topic string, payload []byte) (Reply, error) {
	t, err := proto.DecodeTap(payload)
	if err != nil {
		p.stats.Malformed.Add(1)
		return Reply{}, err
	}
	return p.HandleTap(ctx, topic, t)
}

// HandleTap is Handle for a tap already decoded (by Dispatch). A tap this
// replica decided a moment ago, or is deciding now, sent again (a gate that
// heard nothing, a broker that delivers twice) is answered with that
// decision without a second signature check or database round (recent.go).
func (p *Processor) HandleTap(ctx context.Context, topic string, t proto.Tap) (Reply, error) {
	e, first := p.recent.begin(t.EventID)
	if !first {
		select {
		case <-e.done:
		case <-ctx.Done():
			return Reply{}, ctx.Err()
		}
		if e.err == nil && e.reply.Topic == p.cfg.Topics.Decisions(t.Site, t.Device) {
			p.stats.Duplicates.Add(1)
			r := e.reply
			r.Dup, r.Reason = true, ""
			return r, nil
		}
		// The first attempt failed (or came from another gate): decide
		// this one in full; the store's idempotency holds either way.
		return p.handleTap(ctx, topic, t)
	}
	r, err := p.handleTap(ctx, topic, t)
	p.recent.finish(t.EventID, e, r, err)
	return r, err
}

func (p *Processor) handleTap(ctx context.Context, topic string, t proto.Tap) (Reply, error) {
	_, site, device, err := p.cfg.Topics.Parse(topic)
	if err != nil || site != t.Site || device != t.Device {
		p.stats.Malformed.Add(1)
		return Reply{}, fmt.Errorf("%w: tap for %s/%s arrived on topic %q", proto.ErrMalformed, t.Site, t.Device, topic)
	}
	rec := Record{Tap: t, ReceivedAt: p.cfg.Now(), Offline: t.Offline}
	stop, known := p.cfg.Fares.Stop(t.Site)
	var refuse proto.Reason
	switch {
	case t.Kind != proto.KindMetroEntry && t.Kind != proto.KindMetroExit:
		refuse = proto.ReasonWrongKind
	case t.Offline == nil && p.tooOld(t, rec.ReceivedAt):
		// A tap the gate decided by itself is not too old for this: the
		// gate acted on its own decision and waits for no answer (offline.go).
		refuse = proto.ReasonTapTooOld
	case t.Offline != nil && rec.ReceivedAt.Sub(t.CapturedAt.Time) > p.cfg.MaxOfflineAge:
		// Beyond this, assertion ids are no longer kept: a replay could
		// not be told from a first use, so the tap is not settled.
		refuse = proto.ReasonTapTooOld
	case t.CapturedAt.Sub(rec.ReceivedAt) > p.cfg.MaxClockSkew:
		refuse = proto.ReasonDeviceClock
	case !known:
		refuse = proto.ReasonUnknownSite
	}
	var category string
	if refuse == "" {
		a, err := p.verify(ctx, t)
		if err != nil {
			refuse = assertionReason(err)
		} else {
			rec.Subject, rec.JTI, rec.ExpiresAt = a.Subject, a.JTI, a.ExpiresAt
			// The category is read from the attributes VNeID asserts at
			// the time of travel: a rider who turned 60 yesterday rides free today.
			category = p.cfg.Fares.Category(fare.Rider{Age: a.Age, Disabled: a.Disabled, Meritorious: a.Meritorious}, stop.NetworkID)
		}
	}
	var reason proto.Reason
	decide := func(r *Rider) (Effect, error) {
		// Checked again here, after the store's locks: waiting for them
		// is where a tap grows old.
		if refuse == "" && t.Offline == nil && p.tooOld(t, p.cfg.Now()) {
			refuse = proto.ReasonTapTooOld
		}
		if refuse != "" {
			reason = refuse
			return p.refusal(refuse, t, nil), nil
		}
		decide := p.decide
		if t.Offline != nil {
			decide = p.decideOffline
		}
		eff, err := decide(t, r, stop, category)
		reason = eff.Decision.Reason
		return eff, err
	}
	out, dup, err := p.cfg.Store.Admit(ctx, rec, decide)
	if err != nil {
		p.stats.StoreErrors.Add(1)
		return Reply{}, fmt.Errorf("admission: tap %s: %w", t.EventID, err)
	}
	reply := Reply{Topic: p.cfg.Topics.Decisions(t.Site, t.Device), Payload: out, EventID: t.EventID, Dup: dup}
	if dup {
		p.stats.Duplicates.Add(1)
		return reply, nil
	}
	reply.Reason = reason
	p.stats.count(t.Kind, reason)
	return reply, nil
}

// tooSoon reports whether the tap follows the rider's last tap the other
// way by less than MinTapInterval.
func (p *Processor) tooSoon(t proto.Tap, r *Rider, now time.Time) bool {
	var last time.Time
	switch {
	case t.Kind == proto.KindMetroExit && r.Open != nil:
		last = r.Open.EntryAt
	case t.Kind == proto.KindMetroEntry && r.Open == nil && r.Last != nil && r.Last.ExitEvent != "":
		last = r.Last.ExitAt
	default:
		return false
	}
	d := now.Sub(last)
	return d >= 0 && d < p.cfg.MinTapInterval
}

// tooOld reports whether a decision made at now would reach the gate after
// it stopped waiting.
func (p *Processor) tooOld(t proto.Tap, now time.Time) bool {
	return now.Sub(t.CapturedAt.Time) > p.cfg.MaxTapAge-p.cfg.Budget
}

// assertionReason maps a verifier error to the reason the gate shows.
func assertionReason(err error) proto.Reason {
	switch {
	case errors.Is(err, identity.ErrAssertionExpired):
		return proto.ReasonAssertionExpired
	case errors.Is(err, identity.ErrAssertionNotYetValid):
		return proto.ReasonAssertionNotYetValid
	case errors.Is(err, identity.ErrAssertionWrongDevice):
		return proto.ReasonAssertionWrongDevice
	case errors.Is(err, identity.ErrAssertionReplayed):
		return proto.ReasonAssertionReplayed
	default:
		return proto.ReasonAssertionInvalid
	}
}

// Stats counts what the processor saw, for metrics.
type Stats struct {
	Malformed, Duplicates, StoreErrors atomic.Int64
	Entries, Exits                     atomic.Int64
	reasons                            [len(reasonOrder)]atomic.Int64
}

// reasonOrder fixes an index for each reason counted.
var reasonOrder = [...]proto.Reason{
	proto.ReasonOK, proto.ReasonAssertionInvalid, proto.ReasonAssertionExpired,
	proto.ReasonAssertionNotYetValid, proto.ReasonAssertionWrongDevice,
	proto.ReasonAssertionReplayed, proto.ReasonUnknownSite, proto.ReasonWrongKind,
	proto.ReasonPassBack, proto.ReasonNoEntry, proto.ReasonInsufficientFunds,
	proto.ReasonAccountSuspended, proto.ReasonNoAccount, proto.ReasonTapTooOld, proto.ReasonDeviceClock, proto.ReasonTooSoon,
	proto.ReasonInDebt, proto.ReasonOfflineLimit, proto.ReasonOfflineUnavailable, proto.ReasonInternal,
}

func (s *Stats) count(k proto.Kind, reason proto.Reason) {
	if k == proto.KindMetroEntry {
		s.Entries.Add(1)
	} else {
		s.Exits.Add(1)
	}
	for i, r := range reasonOrder {
		if r == reason {
			s.reasons[i].Add(1)
		}
	}
}

// Stats returns the processor's counters.
func (p *Processor) Stats() *Stats { return &p.stats }

// Decisions returns the count of decisions per reason.
func (s *Stats) Decisions() map[proto.Reason]int64 {
	m := make(map[proto.Reason]int64, len(reasonOrder))
	for i, r := range reasonOrder {
		m[r] = s.reasons[i].Load()
	}
	return m
}
