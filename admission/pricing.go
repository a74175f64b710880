package admission

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
)

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
		q, err := p.cfg.Fares.PriceFor(fare.Query{From: o.EntrySite, To: exit, Category: o.Category, At: o.EntryAt, ExitAt: at})
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

// fareCharge is the ledger transaction of a priced journey: the rider pays
// o.Fare to the operator that carried the journey. A transfer journey whose
// two legs were run by different operators is cleared between them: what
// the rider paid for both legs together (prev.Fare + o.Fare) is shared in
// proportion to the legs' standalone fares (FullFare: what each operator
// would have charged for its leg alone, distance-based on every network we
// price), the first leg's operator getting the rounded-down share. The first
// leg's operator was credited prev.Fare when that leg closed, so this
// transaction moves only the difference, which may be negative (a discount
// borne by both). Nil when nothing moves.
func fareCharge(key string, o, prev *Journey, memo string) (*ledger.Transaction, error) {
	var entries []ledger.Entry
	if o.Fare.IsPositive() {
		entries = append(entries, ledger.Entry{Account: ledger.Rider(o.Subject), Amount: o.Fare.Neg()})
	}
	toNext := o.Fare
	if prev != nil && o.TransferFrom == prev.ID && prev.OperatorID != o.OperatorID {
		fullA, fullB := prev.FullFare, o.FullFare
		if sum := fullA.Add(fullB); sum.IsPositive() {
			total := prev.Fare.Add(o.Fare)
			shareA := total.Mul(fullA).Div(sum).Floor()
			if adjA := shareA.Sub(prev.Fare); !adjA.IsZero() {
				entries = append(entries, ledger.Entry{Account: ledger.OperatorRevenue(prev.OperatorID), Amount: adjA})
				toNext = toNext.Sub(adjA)
			}
			memo += " (transfer: " + total.String() + " shared by leg fares " + fullA.String() + "/" + fullB.String() + ")"
		}
	}
	if !toNext.IsZero() {
		entries = append(entries, ledger.Entry{Account: ledger.OperatorRevenue(o.OperatorID), Amount: toNext})
	}
	if len(entries) < 2 {
		return nil, nil
	}
	t, err := ledger.New(key, "fare", memo, entries...)
	if err != nil {
		return nil, err
	}
	t.JourneyID = o.ID
	return &t, nil
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
