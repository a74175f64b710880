package admission

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
)

// Taps decided offline.
//
// A gate that gets no answer in time decides by itself from what it has
// (the VNeID keys, a deny list, its own record of recent entries) and sends
// the tap later with its decision in proto.Tap.Offline. By the time the tap
// arrives the rider is long through the barrier, or long gone from it: the
// cloud no longer decides, it settles what happened.
//
//   - It is never refused as too old (that refusal exists so that nobody is
//     charged for a passage the gate refused; here the gate has acted), and
//     it is settled exactly once by its event id like any tap. Its assertion
//     is verified as of the capture time (identity.VerifierAt), and its jti
//     is claimed once as usual.
//   - The gate stayed shut: nothing to settle. The tap is recorded with the
//     gate's reason, and no money moves.
//   - The gate opened, and the cloud agrees: settled as if it had decided
//     it then (entry recorded, exit charged).
//   - The gate opened, and the cloud would have refused for the rider's
//     money or account (insufficient funds, in debt, suspended, a
//     pass-back, too soon): the passage is honoured. The rider is through
//     the barrier whatever we decide now; refusing would only lose the
//     entry, so that the exit would be charged the maximum fare for a
//     missing entry and the journey be priced wrongly, or lose the exit,
//     leaving a journey open for the sweep to charge at the maximum fare.
//     Recording the passage prices the journey from its real taps, and a
//     negative balance is a debt the next online entry sees. Exposure is
//     bounded by the gate's offline policy (entries per rider per day, deny
//     list age), which the operator pushes: that is where the risk is set,
//     not here.
//   - The gate opened, and the cloud's verdict is about who the rider is
//     (forged, expired at capture or replayed assertion, another device's
//     assertion, no vnpass account): there is nobody to charge, or the
//     wrong person would be. The tap is recorded with the cloud's reason,
//     as a passage the gate let through that could not be settled; the
//     offline decision stored with it says why the gate let it through.
//
// Offline taps arrive out of order with the rest of a rider's taps (another
// gate of the journey may have been online, or both drain at once when a
// station's network comes back). Entries are where getting the order wrong
// charges the maximum fare twice: an entry that arrives after the exit it
// belongs to (the exit was charged the maximum fare for a missing entry:
// the journey is priced from both taps and the difference refunded), and an
// entry captured before the rider's last exit or before the entry of the
// journey open now (recorded, nothing charged).
//
// Answering a late copy of an online tap from the same gate is not an issue:
// a gate whose online tap timed out decides offline on a new tap, with a new
// assertion, so one event id is never both online and offline.

// verify checks the tap's assertion: at its capture time for a tap decided
// offline (it may be hours old), now for the rest. A verifier that cannot
// judge the past verifies an offline tap now, which refuses it as expired.
func (p *Processor) verify(ctx context.Context, t proto.Tap) (identity.Assertion, error) {
	if t.Offline != nil {
		if va, ok := p.cfg.Verifier.(identity.VerifierAt); ok {
			return va.VerifyAt(ctx, t.Assertion, t.Device, t.CapturedAt.Time)
		}
	}
	return p.cfg.Verifier.Verify(ctx, t.Assertion, t.Device)
}

// Texts of the decisions on offline taps. The gate does not show them (it
// acted long ago); they are what the rider's history and the operators see.
var (
	textOfflineEntry = proto.Display{VI: "Lượt vào ngoại tuyến đã ghi nhận", EN: "Offline entry recorded"}
	textStaleEntry   = proto.Display{
		VI: "Lượt vào ngoại tuyến cũ hơn hành trình đã ghi nhận: không thu thêm",
		EN: "Offline entry older than the journeys recorded: nothing charged",
	}
	textStaleExit = proto.Display{
		VI: "Lượt ra cũ hơn lượt vào hiện tại: không thu thêm",
		EN: "Exit older than the current entry: nothing charged",
	}
)

// decideOffline settles a tap the gate decided by itself (see above).
func (p *Processor) decideOffline(t proto.Tap, r *Rider, stop fare.Stop, category string) (Effect, error) {
	o := t.Offline
	if !o.Open {
		return p.refusal(o.Reason, t, nil), nil
	}
	at := t.CapturedAt.Time
	if t.Kind == proto.KindMetroEntry && r.Exists && !r.Replayed {
		balance := r.Balance
		l, j := r.Last, r.Open
		switch {
		case l != nil && l.Status == JourneyIncomplete && l.FareRule == RuleMissingEntry && l.NetworkID == stop.NetworkID &&
			!l.ExitAt.Before(at) && l.ExitAt.Sub(at) < p.cfg.MaxJourney:
			return p.lateEntry(t, r, l, at)
		case l != nil && l.ExitEvent != "" && !l.ExitAt.Before(at), j != nil && j.EntryAt.After(at):
			// Captured before the rider's last exit tap, or before the entry
			// of the journey open now: an entry of the past, whose journey
			// is settled or priced already. Opening one for it would be
			// closed at the maximum fare; closing the open one would
			// charge a missing exit that is not missing.
			zero := decimal.Zero
			return Effect{Decision: p.decision(t, proto.ReasonOK, &zero, &balance, textStaleEntry)}, nil
		}
	}
	eff, err := p.decide(t, r, stop, category)
	if err != nil || eff.Decision.Open {
		return eff, err
	}
	switch eff.Decision.Reason {
	case proto.ReasonAssertionReplayed, proto.ReasonNoAccount:
		return eff, nil // nobody to charge, or not this rider
	}
	if t.Kind == proto.KindMetroEntry {
		return p.honourEntry(t, r, stop, category, at)
	}
	// An exit is refused only as too soon after the entry: the barrier
	// opened, so it closes the journey.
	return p.exit(t, r, stop, category, at, r.Balance)
}

// lateEntry takes an offline entry whose exit reached the cloud first (both
// gates were offline and drained together, or the exit gate was online):
// the exit was charged the maximum fare for a missing entry. The journey is
// priced from both taps and the difference refunded, as a late exit is; the
// refund is linked to the journey, which takes the fare and its rule (the
// Store records no entry on a closed journey), and the tap is recorded
// against it. Nothing opens: the rider is long gone.
func (p *Processor) lateEntry(t proto.Tap, r *Rider, l *Journey, at time.Time) (Effect, error) {
	balance := r.Balance
	j := *l
	j.EntryEvent, j.EntrySite, j.EntryAt = t.EventID, t.Site, at
	j.Cap, j.CapRule, j.TransferRule, j.TransferFrom, j.PassID = "", "", "", 0, 0
	if _, _, err := p.price(&j, l.ExitSite, l.ExitAt, nil, r.Passes); err != nil {
		return Effect{}, err
	}
	if _, err := p.applyCaps(&j, r); err != nil {
		return Effect{}, err
	}
	eff := Effect{Journey: l}
	refund := l.Fare.Sub(j.Fare)
	text := proto.Display{VI: "Lượt vào ngoại tuyến đến sau lượt ra", EN: "Offline entry arrived after the exit"}
	if refund.IsPositive() {
		c, err := ledger.Transfer("fare-correction:"+t.EventID, "fare_correction",
			"late offline entry "+t.Site+" -> "+l.ExitSite+" ("+j.FareRule+")",
			ledger.OperatorRevenue(l.OperatorID), ledger.Rider(r.Subject), refund)
		if err != nil {
			return Effect{}, err
		}
		c.JourneyID = l.ID
		eff.Charges = append(eff.Charges, c)
		balance = balance.Add(refund)
		text = proto.Display{
			VI: text.VI + ": hoàn " + money.Format(refund),
			EN: text.EN + ": " + money.Format(refund) + " refunded",
		}
	}
	// The journey now says what the rider pays for it and which fare row
	// priced it; it stays incomplete (no entry recorded on it), and its
	// rule is no longer the missing entry's, so a second late entry finds
	// nothing to correct.
	l.Fare, l.FullFare, l.FareRule, l.Cap, l.CapRule = j.Fare, j.FullFare, j.FareRule, j.Cap, j.CapRule
	eff.Close = []*Journey{l}
	zero := decimal.Zero
	eff.Decision = p.decision(t, proto.ReasonOK, &zero, &balance, text)
	return eff, nil
}

// honourEntry records an entry the gate let through offline that the cloud
// would have refused for the rider's money or account. A journey the rider
// has open is closed at the maximum fare for its missing exit, as an entry
// after MaxJourney does (its exit, if it was real and is still on its way
// from another offline gate, corrects it as a late exit).
func (p *Processor) honourEntry(t proto.Tap, r *Rider, stop fare.Stop, category string, at time.Time) (Effect, error) {
	var eff Effect
	balance := r.Balance
	if o := r.Open; o != nil {
		charges, err := p.closeIncomplete(o, r.Passes, "", "", at, RuleMissingExit)
		if err != nil {
			return Effect{}, err
		}
		eff.Close = append(eff.Close, o)
		eff.Charges = append(eff.Charges, charges...)
		balance = balance.Sub(o.Fare)
	}
	j := &Journey{
		Subject: r.Subject, NetworkID: stop.NetworkID, OperatorID: stop.OperatorID,
		EntryEvent: t.EventID, EntrySite: t.Site, EntryAt: at,
		Category: category, Status: JourneyOpen,
	}
	eff.Open, eff.Journey = j, j
	eff.Decision = p.decision(t, proto.ReasonOK, nil, &balance, textOfflineEntry)
	return eff, nil
}
