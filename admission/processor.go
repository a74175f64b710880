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
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
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
	// MaxJourney is how long a journey may stay open. An entry after that
	// closes the old journey at the maximum fare (a missed tap-out) instead
	// of refusing the rider as a pass-back. Default 4 hours.
	MaxJourney time.Duration
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
	cfg   Config
	stats Stats
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
	_, site, device, err := p.cfg.Topics.Parse(topic)
	if err != nil || site != t.Site || device != t.Device {
		p.stats.Malformed.Add(1)
		return Reply{}, fmt.Errorf("%w: tap for %s/%s arrived on topic %q", proto.ErrMalformed, t.Site, t.Device, topic)
	}
	rec := Record{Tap: t, ReceivedAt: p.cfg.Now()}
	var refuse proto.Reason
	switch {
	case t.Kind != proto.KindMetroEntry && t.Kind != proto.KindMetroExit:
		refuse = proto.ReasonWrongKind
	case p.tooOld(t, rec.ReceivedAt):
		refuse = proto.ReasonTapTooOld
	case t.CapturedAt.Sub(rec.ReceivedAt) > p.cfg.MaxClockSkew:
		refuse = proto.ReasonDeviceClock
	default:
		if _, ok := p.cfg.Fares.Stop(t.Site); !ok {
			refuse = proto.ReasonUnknownSite
		}
	}
	var category string
	if refuse == "" {
		a, err := p.cfg.Verifier.Verify(ctx, t.Assertion, t.Device)
		if err != nil {
			refuse = assertionReason(err)
		} else {
			rec.Subject, rec.JTI, rec.ExpiresAt = a.Subject, a.JTI, a.ExpiresAt
			// The category is read from the attributes VNeID asserts at
			// the time of travel: a rider who turned 60 yesterday rides free today.
			stop, _ := p.cfg.Fares.Stop(t.Site)
			category = p.cfg.Fares.Category(fare.Rider{Age: a.Age, Disabled: a.Disabled, Meritorious: a.Meritorious}, stop.NetworkID)
		}
	}
	var reason proto.Reason
	decide := func(r *Rider) (Effect, error) {
		// Checked again here, after the store's locks: waiting for them
		// is where a tap grows old.
		if refuse == "" && p.tooOld(t, p.cfg.Now()) {
			refuse = proto.ReasonTapTooOld
		}
		if refuse != "" {
			reason = refuse
			return p.refusal(refuse, t, nil), nil
		}
		eff, err := p.decide(t, r, category)
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

// decide is the fare rule of a verified tap on a metro gate.
func (p *Processor) decide(t proto.Tap, r *Rider, category string) (Effect, error) {
	switch {
	case r.Replayed:
		return p.refusal(proto.ReasonAssertionReplayed, t, nil), nil
	case !r.Exists || r.Status == AccountClosed:
		return p.refusal(proto.ReasonNoAccount, t, nil), nil
	}
	stop, _ := p.cfg.Fares.Stop(t.Site)
	now := t.CapturedAt.Time
	var eff Effect
	balance := r.Balance
	if p.tooSoon(t, r, now) {
		return p.refusal(proto.ReasonTooSoon, t, &balance), nil
	}
	if t.Kind == proto.KindMetroEntry {
		if r.Status == AccountSuspended {
			return p.refusal(proto.ReasonAccountSuspended, t, &balance), nil
		}
		if o := r.Open; o != nil {
			if o.EntrySite == t.Site && now.Sub(o.EntryAt) < p.cfg.RetapWindow {
				// The rider is trying again at the gate they just entered
				// by: let them through on the journey already open.
				eff.Journey = o
				eff.Decision = p.decision(t, proto.ReasonOK, nil, &balance, proto.ReasonOK.Display())
				return eff, nil
			}
			if now.Sub(o.EntryAt) < p.cfg.MaxJourney {
				return p.refusal(proto.ReasonPassBack, t, &balance), nil
			}
			// The rider never tapped out of the old journey: close it at the
			// maximum fare so that this entry can open a new one.
			charges, err := p.closeIncomplete(o, r.Passes, "", "", o.EntryAt.Add(p.cfg.MaxJourney), RuleMissingExit)
			if err != nil {
				return Effect{}, err
			}
			eff.Close = append(eff.Close, o)
			eff.Charges = append(eff.Charges, charges...)
			balance = balance.Sub(o.Fare)
		}
		if min := p.cfg.Fares.MinFareFor(stop.NetworkID, category); balance.LessThan(min) {
			// A stale journey closed above stays closed and charged.
			eff.Decision = p.refusal(proto.ReasonInsufficientFunds, t, &balance).Decision
			return eff, nil
		}
		j := &Journey{
			Subject: r.Subject, NetworkID: stop.NetworkID, OperatorID: stop.OperatorID,
			EntryEvent: t.EventID, EntrySite: t.Site, EntryAt: now,
			Category: category, Status: JourneyOpen,
		}
		eff.Open, eff.Journey = j, j
		eff.Decision = p.decision(t, proto.ReasonOK, nil, &balance, proto.ReasonOK.Display())
		return eff, nil
	}

	// Exit. The gate opens whatever the balance: a rider is never held
	// inside a station; a negative balance is a debt the next entry sees.
	o := r.Open
	var fareAmt decimal.Decimal
	var text proto.Display
	if l := r.Last; o == nil && l != nil && l.ExitSite == t.Site && now.Sub(l.ExitAt) < p.cfg.RetapWindow {
		// Trying again at the exit just used: open, charge nothing more.
		zero := decimal.Zero
		eff.Journey = l
		eff.Decision = p.decision(t, proto.ReasonOK, &zero, &balance, proto.Display{
			VI: "Đã thanh toán " + money.Format(l.Fare), EN: "Already paid " + money.Format(l.Fare),
		})
		return eff, nil
	}
	if l := r.Last; o == nil && l != nil && l.Status == JourneyIncomplete && l.FareRule == RuleMissingExit &&
		l.NetworkID == stop.NetworkID && now.Sub(l.EntryAt) < p.cfg.LateExitWindow {
		return p.lateExit(t, r, l, now, balance)
	}
	switch {
	case o != nil && o.NetworkID == stop.NetworkID && now.Sub(o.EntryAt) >= p.cfg.MaxJourney:
		// Inside far longer than any journey takes: priced as a journey
		// with a missing tap, once.
		charges, err := p.closeIncomplete(o, r.Passes, t.EventID, t.Site, now, RuleOverMaxJourney)
		if err != nil {
			return Effect{}, err
		}
		eff.Close = append(eff.Close, o)
		eff.Charges = append(eff.Charges, charges...)
		fareAmt = o.Fare
		text = proto.Display{
			VI: "Quá thời gian hành trình: thu giá tối đa " + money.Format(fareAmt),
			EN: "Journey too long: maximum fare " + money.Format(fareAmt),
		}
	case o == nil || o.NetworkID != stop.NetworkID:
		// No entry on this network: the maximum fare, as every
		// account-based system does for a missing entry tap.
		o = &Journey{
			Subject: r.Subject, NetworkID: stop.NetworkID, OperatorID: stop.OperatorID,
			Category: category,
		}
		charges, err := p.closeIncomplete(o, r.Passes, t.EventID, t.Site, now, RuleMissingEntry)
		if err != nil {
			return Effect{}, err
		}
		eff.Open = o // a journey with only an exit: opened and closed in one go
		eff.Charges = append(eff.Charges, charges...)
		fareAmt = o.Fare
		text = proto.Display{
			VI: "Không có lượt vào: thu giá tối đa " + money.Format(fareAmt),
			EN: "No entry tap: maximum fare " + money.Format(fareAmt),
		}
	default:
		o.ExitEvent = t.EventID
		q, adj, err := p.price(o, t.Site, now, r.Last, r.Passes)
		if err != nil {
			return Effect{}, err
		}
		capped, err := p.applyCaps(o, r)
		if err != nil {
			return Effect{}, err
		}
		if o.Fare.IsPositive() {
			charge, err := ledger.Transfer("fare:"+t.EventID, "fare", o.EntrySite+" -> "+t.Site,
				ledger.Rider(r.Subject), ledger.OperatorRevenue(q.OperatorID), o.Fare)
			if err != nil {
				return Effect{}, err
			}
			charge.JourneyID = o.ID
			eff.Charges = append(eff.Charges, charge)
		}
		eff.Close = append(eff.Close, o)
		fareAmt = o.Fare
		switch {
		case q.Amount.IsZero():
			text = proto.Display{VI: "Miễn phí", EN: "Free fare"}
		case o.PassID != 0:
			text = proto.Display{VI: "Đi bằng vé kỳ", EN: "Travelling on your pass"}
		case adj.IsNegative() && capped.Cap == fare.CapNone:
			text = proto.Display{
				VI: "Phí " + money.Format(fareAmt) + " (chuyển tuyến, giảm " + money.Format(adj.Neg()) + ")",
				EN: "Fare " + money.Format(fareAmt) + " (transfer, " + money.Format(adj.Neg()) + " off)",
			}
		case capped.Cap == fare.CapDay:
			text = proto.Display{
				VI: "Phí " + money.Format(fareAmt) + " (đủ mức trần ngày " + money.Format(capped.Limit) + ")",
				EN: "Fare " + money.Format(fareAmt) + " (daily cap " + money.Format(capped.Limit) + " reached)",
			}
		case capped.Cap == fare.CapMonth:
			text = proto.Display{
				VI: "Phí " + money.Format(fareAmt) + " (đủ mức trần tháng " + money.Format(capped.Limit) + ")",
				EN: "Fare " + money.Format(fareAmt) + " (monthly cap " + money.Format(capped.Limit) + " reached)",
			}
		default:
			text = proto.Display{VI: "Phí " + money.Format(fareAmt), EN: "Fare " + money.Format(fareAmt)}
		}
	}
	eff.Journey = o
	balance = balance.Sub(fareAmt)
	eff.Decision = p.decision(t, proto.ReasonOK, &fareAmt, &balance, text)
	return eff, nil
}

// Fare rules of journeys priced without both taps.
const (
	RuleMissingEntry   = "missing-entry-max-fare"
	RuleMissingExit    = "missing-exit-max-fare"
	RuleOverMaxJourney = "over-max-journey-time-max-fare"
)

// lateExit takes the exit of a journey already closed at the maximum fare
// for a missing exit. An exit captured within MaxJourney of the entry was
// real and in time: the journey is priced from its taps and the difference
// refunded. A later exit confirms the overlong journey: nothing more is
// charged. Either way the gate opens and the exit is not a second journey.
func (p *Processor) lateExit(t proto.Tap, r *Rider, l *Journey, now time.Time, balance decimal.Decimal) (Effect, error) {
	var eff Effect
	charged := l.Fare
	l.ExitEvent = t.EventID
	if now.Sub(l.EntryAt) >= p.cfg.MaxJourney {
		l.ExitSite, l.ExitAt, l.FareRule = t.Site, now, RuleOverMaxJourney
		eff.Close, eff.Journey = []*Journey{l}, l
		zero := decimal.Zero
		eff.Decision = p.decision(t, proto.ReasonOK, &zero, &balance, proto.Display{
			VI: "Quá thời gian hành trình: đã thu giá tối đa " + money.Format(charged),
			EN: "Journey too long: maximum fare " + money.Format(charged) + " already charged",
		})
		return eff, nil
	}
	l.Cap, l.CapRule, l.TransferRule, l.TransferFrom, l.PassID = "", "", "", 0, 0
	if _, _, err := p.price(l, t.Site, now, nil, r.Passes); err != nil {
		return Effect{}, err
	}
	if _, err := p.applyCaps(l, r); err != nil {
		return Effect{}, err
	}
	refund := charged.Sub(l.Fare)
	if refund.IsPositive() {
		c, err := ledger.Transfer("fare-correction:"+t.EventID, "fare_correction", "late exit "+t.Site,
			ledger.OperatorRevenue(l.OperatorID), ledger.Rider(r.Subject), refund)
		if err != nil {
			return Effect{}, err
		}
		c.JourneyID = l.ID
		eff.Charges = append(eff.Charges, c)
		balance = balance.Add(refund)
	}
	eff.Close, eff.Journey = []*Journey{l}, l
	zero := decimal.Zero
	eff.Decision = p.decision(t, proto.ReasonOK, &zero, &balance, proto.Display{
		VI: "Phí " + money.Format(l.Fare) + ", hoàn lại " + money.Format(refund),
		EN: "Fare " + money.Format(l.Fare) + ", " + money.Format(refund) + " refunded",
	})
	return eff, nil
}

// Sweep closes, at the maximum fare, journeys left open longer than
// MaxJourney (the rider never tapped out), so that the charge and the
// ridership do not wait for the rider's next entry. It returns how many it
// closed. A late exit still corrects them (see lateExit).
func (p *Processor) Sweep(ctx context.Context) (int, error) {
	now := p.cfg.Now()
	subjects, err := p.cfg.Store.StaleJourneys(ctx, now.Add(-p.cfg.MaxJourney), 500)
	if err != nil {
		return 0, err
	}
	closed := 0
	for _, subject := range subjects {
		did := false
		err := p.cfg.Store.Settle(ctx, subject, func(r *Rider) (Effect, error) {
			o := r.Open
			did = o != nil && now.Sub(o.EntryAt) >= p.cfg.MaxJourney
			if !did {
				return Effect{}, nil // the rider tapped out meanwhile
			}
			charges, err := p.closeIncomplete(o, r.Passes, "", "", o.EntryAt.Add(p.cfg.MaxJourney), RuleMissingExit)
			if err != nil {
				return Effect{}, err
			}
			return Effect{Close: []*Journey{o}, Charges: charges}, nil
		})
		if err != nil {
			return closed, err
		}
		if did {
			closed++
		}
	}
	return closed, nil
}

// price prices the journey o ending at exit: alone, or as the second leg
// after the rider's previous journey when a transfer rule joins them (exit
// from Line 2A at Cát Linh, entry to Line 3 at Cát Linh within the time
// limit). It fills o's fare fields and returns the quote of the leg alone
// and what the transfer changed.
func (p *Processor) price(o *Journey, exit string, at time.Time, prev *Journey, passes []HeldPass) (fare.Quote, decimal.Decimal, error) {
	next := fare.Leg{From: o.EntrySite, To: exit, EntryAt: o.EntryAt, ExitAt: at, Category: o.Category}
	o.ExitSite, o.ExitAt = exit, at
	if prev == nil || prev.Status != JourneyClosed || prev.TransferFrom != 0 {
		// No previous complete journey, or it was a transfer already: one
		// transfer per journey.
		q, err := p.cfg.Fares.PriceFor(fare.Query{From: o.EntrySite, To: exit, Category: o.Category, At: o.EntryAt})
		if err != nil {
			return fare.Quote{}, decimal.Zero, fmt.Errorf("price %s -> %s: %w", o.EntrySite, exit, err)
		}
		o.FullFare, o.Fare, o.FareRule, o.OperatorID, o.Status = q.Amount, q.Amount, q.RuleID, q.OperatorID, JourneyClosed
		usePass(o, passes)
		return q, decimal.Zero, nil
	}
	tq, err := p.cfg.Fares.Transfer(fare.Leg{
		From: prev.EntrySite, To: prev.ExitSite, EntryAt: prev.EntryAt, ExitAt: prev.ExitAt,
		Category: prev.Category, Charged: prev.Fare,
	}, next)
	if err != nil {
		return fare.Quote{}, decimal.Zero, fmt.Errorf("price %s -> %s after %s -> %s: %w", o.EntrySite, exit, prev.EntrySite, prev.ExitSite, err)
	}
	q := tq.Next
	o.FullFare, o.Fare, o.FareRule, o.OperatorID, o.Status = q.Amount, tq.Charge, q.RuleID, q.OperatorID, JourneyClosed
	if tq.RuleID != "" {
		o.TransferRule, o.TransferFrom = tq.RuleID, prev.ID
	}
	if usePass(o, passes) {
		return q, decimal.Zero, nil
	}
	return q, tq.Adjustment, nil
}

// usePass makes a pass pay for the journey if one covers its network when
// it entered (or, for a journey with no entry, when it left). It reports
// whether one did.
func usePass(o *Journey, passes []HeldPass) bool {
	at := o.EntryAt
	if at.IsZero() {
		at = o.ExitAt
	}
	for _, h := range passes {
		if fare.PassCovers(h.Pass, o.NetworkID, at) {
			o.Fare, o.PassID = decimal.Zero, h.ID
			o.TransferRule, o.TransferFrom = "", 0
			return true
		}
	}
	return false
}

// applyCaps lowers a priced journey's fare to what the daily and monthly
// caps of its network leave (a rider never pays more than the day or month
// pass would have cost), counting what the rider paid on that network in
// the local day and month of the journey's entry. Journeys priced at the
// maximum fare for a missing tap are neither capped nor counted, as in
// London: the cap rewards complete journeys.
func (p *Processor) applyCaps(o *Journey, r *Rider) (fare.CapResult, error) {
	if !o.Fare.IsPositive() || r.Spent == nil {
		return fare.CapResult{Charge: o.Fare}, nil
	}
	dayFrom, dayTo := fare.Day(o.EntryAt)
	monthFrom, monthTo := fare.Month(o.EntryAt)
	today, err := r.Spent(o.NetworkID, dayFrom, dayTo)
	if err != nil {
		return fare.CapResult{}, err
	}
	month, err := r.Spent(o.NetworkID, monthFrom, monthTo)
	if err != nil {
		return fare.CapResult{}, err
	}
	c := p.cfg.Fares.Cap(o.NetworkID, o.Category, today, month, o.Fare)
	o.Fare, o.Cap, o.CapRule = c.Charge, string(c.Cap), c.RuleID
	return c, nil
}

// closeIncomplete prices a journey missing a tap at the network's maximum
// fare for the rider's category and returns its charge (none when that is
// free), keyed by the journey's missing side.
func (p *Processor) closeIncomplete(o *Journey, passes []HeldPass, exitEvent, exitSite string, at time.Time, rule string) ([]ledger.Transaction, error) {
	o.ExitEvent, o.ExitSite, o.ExitAt = exitEvent, exitSite, at
	o.Fare = p.cfg.Fares.MaxFareFor(o.NetworkID, o.Category)
	o.FullFare, o.FareRule, o.Status = o.Fare, rule, JourneyIncomplete
	usePass(o, passes)
	if !o.Fare.IsPositive() {
		return nil, nil
	}
	key := "fare:" + exitEvent
	if exitEvent == "" {
		key = "fare:missing-exit:" + o.EntryEvent
	}
	t, err := ledger.Transfer(key, "fare", rule, ledger.Rider(o.Subject), ledger.OperatorRevenue(o.OperatorID), o.Fare)
	if err != nil {
		return nil, err
	}
	t.JourneyID = o.ID // 0 for a journey this tap creates: the store fills it in
	return []ledger.Transaction{t}, nil
}

func (p *Processor) refusal(reason proto.Reason, t proto.Tap, balance *decimal.Decimal) Effect {
	return Effect{Decision: p.decision(t, reason, nil, balance, reason.Display())}
}

// decision builds the reply; the display gets the amounts appended.
func (p *Processor) decision(t proto.Tap, reason proto.Reason, fareAmt, balance *decimal.Decimal, text proto.Display) proto.Decision {
	d := proto.Decision{
		EventID:   t.EventID,
		Open:      reason == proto.ReasonOK,
		Reason:    reason,
		Display:   text,
		DecidedAt: proto.At(p.cfg.Now()),
	}
	if fareAmt != nil {
		v := fareAmt.IntPart()
		d.FareVND = &v
	}
	if balance != nil {
		v := money.Round(*balance).IntPart()
		d.BalanceVND = &v
		d.Display.VI += " · Số dư " + money.Format(*balance)
		d.Display.EN += " · Balance " + money.Format(*balance)
	}
	return d
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
	proto.ReasonInternal,
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
