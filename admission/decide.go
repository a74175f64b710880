package admission

import (
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
)

// MaxOfflineAge is how old an offline tap may be and still be settled.
func (p *Processor) MaxOfflineAge() time.Duration { return p.cfg.MaxOfflineAge }

// DebtLimit is what a post-paid rider in debt may owe and still enter.
func (p *Processor) DebtLimit() decimal.Decimal { return p.cfg.DebtLimit }

// decide is the fare rule of a verified tap on a metro gate.
func (p *Processor) decide(t proto.Tap, r *Rider, stop fare.Stop, category string) (Effect, error) {
	switch {
	case r.Replayed:
		return p.refusal(proto.ReasonAssertionReplayed, t, nil), nil
	case !r.Exists || r.Status == AccountClosed:
		return p.refusal(proto.ReasonNoAccount, t, nil), nil
	}
	now := t.CapturedAt.Time
	balance := r.Balance
	if p.tooSoon(t, r, now) {
		return p.refusal(proto.ReasonTooSoon, t, &balance), nil
	}
	if t.Kind == proto.KindMetroEntry {
		return p.entry(t, r, stop, category, now, balance)
	}
	return p.exit(t, r, stop, category, now, balance)
}

// entry opens a journey, or refuses: pass-back, suspended account, a
// balance below the cheapest fare. A retap at the same station opens on
// the journey already open; a journey open past PassBackWindow is first
// closed at the maximum fare for its missing exit.
func (p *Processor) entry(t proto.Tap, r *Rider, stop fare.Stop, category string, now time.Time, balance decimal.Decimal) (Effect, error) {
	var eff Effect
	if r.Status == AccountSuspended {
		return p.refusal(proto.ReasonAccountSuspended, t, &balance), nil
	}
	if owed := balance.Neg(); r.Funding == FundingPostpaid && !r.DebtSince.IsZero() && owed.GreaterThan(p.cfg.DebtLimit) {
		// A declined collection left a debt over the limit: no entry
		// until it is paid (exits always open).
		// (The amount is in the text: the balance is not appended.)
		eff.Decision = p.decision(t, proto.ReasonInDebt, nil, nil, proto.Display{
			VI: "Tài khoản còn nợ " + money.Format(owed) + ", vui lòng thanh toán trên ứng dụng",
			EN: "Unpaid " + money.Format(owed) + ", please pay in the app",
		})
		return eff, nil
	}
	text := proto.ReasonOK.Display()
	if o := r.Open; o != nil {
		if o.EntrySite == t.Site && now.Sub(o.EntryAt) < p.cfg.RetapWindow {
			// The rider is trying again at the gate they just entered
			// by: let them through on the journey already open.
			eff.Journey = o
			eff.Decision = p.decision(t, proto.ReasonOK, nil, &balance, proto.ReasonOK.Display())
			return eff, nil
		}
		if now.Sub(o.EntryAt) < p.cfg.PassBackWindow {
			return p.refusal(proto.ReasonPassBack, t, &balance), nil
		}
		// The rider is outside, so the old journey ended without an exit
		// tap we have: close it at the maximum fare so that this entry can
		// open a new one. Its exit, if a gate still holds it, corrects it
		// (lateExit). The exit time is unknown; it was before now and
		// within MaxJourney of the entry: the earlier of the two.
		end := o.EntryAt.Add(p.cfg.MaxJourney)
		if end.After(now) {
			end = now
		}
		charges, err := p.closeIncomplete(o, r.Passes, "", "", end, RuleMissingExit)
		if err != nil {
			return Effect{}, err
		}
		eff.Close = append(eff.Close, o)
		eff.Charges = append(eff.Charges, charges...)
		balance = balance.Sub(o.Fare)
		if o.Fare.IsPositive() {
			text = proto.Display{
				VI: "Chuyến trước thiếu lượt ra: thu giá tối đa " + money.Format(o.Fare),
				EN: "Last journey had no exit tap: maximum fare " + money.Format(o.Fare),
			}
		}
	}
	// A post-paid rider pays after travel: no balance needed to enter.
	if min := p.cfg.Fares.MinFareFor(stop.NetworkID, category); r.Funding != FundingPostpaid && balance.LessThan(min) {
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
	eff.Decision = p.decision(t, proto.ReasonOK, nil, &balance, text)
	return eff, nil
}

// exit closes the rider's journey and charges it. The gate opens whatever
// the balance: a rider is never held inside a station; a negative balance is
// a debt the next entry sees.
func (p *Processor) exit(t proto.Tap, r *Rider, stop fare.Stop, category string, now time.Time, balance decimal.Decimal) (Effect, error) {
	var eff Effect
	o := r.Open
	var fareAmt decimal.Decimal
	var text proto.Display
	if l := r.Last; o == nil && l != nil && l.ExitSite == t.Site && !now.Before(l.EntryAt) && now.Sub(l.ExitAt) < p.cfg.RetapWindow {
		// Trying again at the exit just used (or at its other gate at the
		// same moment, captured a little before): open, charge nothing
		// more. Not an exit captured before that journey's entry: that one
		// belongs to an earlier journey (below).
		zero := decimal.Zero
		eff.Journey = l
		eff.Decision = p.decision(t, proto.ReasonOK, &zero, &balance, proto.Display{
			VI: "Đã thanh toán " + money.Format(l.Fare), EN: "Already paid " + money.Format(l.Fare),
		})
		return eff, nil
	}
	// The exit of the last journey, closed for a missing exit (the sweep
	// ran, or the exit was held at an offline gate). An exit older than the
	// journey open now is found below.
	if l := r.Last; o == nil && l != nil && l.Status == JourneyIncomplete &&
		l.FareRule == RuleMissingExit && l.NetworkID == stop.NetworkID && !now.Before(l.EntryAt) &&
		now.Sub(l.EntryAt) < p.cfg.LateExitWindow {
		return p.lateExit(t, r, l, now, balance)
	}
	if o != nil && now.Before(o.EntryAt) || o == nil && r.Last != nil && !r.Last.EntryAt.IsZero() && now.Before(r.Last.EntryAt) {
		// Captured before the entry of the rider's current journey: an exit
		// of the past, forwarded late by an offline gate. It never ends the
		// journey open now (that would price it from an exit before its
		// entry). Which journey it belongs to is the one whose entry comes
		// last before it, however many the rider made since.
		var j *Journey
		if r.JourneyAt != nil {
			var err error
			if j, err = r.JourneyAt(now); err != nil {
				return Effect{}, err
			}
		}
		switch {
		case j != nil && j.Status == JourneyIncomplete && j.FareRule == RuleMissingExit && j.NetworkID == stop.NetworkID &&
			now.Sub(j.EntryAt) < p.cfg.LateExitWindow:
			// Its journey was closed for a missing exit (the rider entered
			// again elsewhere, or the sweep ran): this is that exit.
			return p.lateExit(t, r, j, now, balance)
		case j != nil && (j.ExitAt.IsZero() || !now.After(j.ExitAt.Add(p.cfg.RetapWindow))):
			// Within a journey that has its exit: a second exit tap of it.
			// Recorded, nothing charged.
			zero := decimal.Zero
			eff.Decision = p.decision(t, proto.ReasonOK, &zero, &balance, textStaleExit)
			return eff, nil
		}
		// Between journeys: an exit with no entry, in the past; charged
		// as any exit without an entry, on a journey of its own.
		o = nil
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
		charge, err := fareCharge("fare:"+t.EventID, o, r.Last, o.EntrySite+" -> "+t.Site)
		if err != nil {
			return Effect{}, err
		}
		if charge != nil {
			eff.Charges = append(eff.Charges, *charge)
		}
		eff.Close = append(eff.Close, o)
		fareAmt = o.Fare
		text = exitText(o, q.Amount, adj, capped)
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
