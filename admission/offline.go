package admission

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/identity"
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
// gate of the journey may have been online). Two orders are handled here
// because getting them wrong charges the maximum fare twice: an entry that
// arrives after the exit it belongs to was charged as a missing entry, and
// an entry older than the journey the rider has open since. Both are
// recorded and charge nothing more.
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
	textLateEntry    = proto.Display{
		VI: "Lượt vào ngoại tuyến đến sau lượt ra: giữ giá đã thu",
		EN: "Offline entry arrived after the exit: fare already charged stands",
	}
	textStaleEntry = proto.Display{
		VI: "Lượt vào ngoại tuyến cũ hơn hành trình đang mở: không thu thêm",
		EN: "Offline entry older than the open journey: nothing charged",
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
		if l := r.Last; l != nil && l.Status == JourneyIncomplete && l.FareRule == RuleMissingEntry &&
			l.NetworkID == stop.NetworkID && l.ExitAt.After(at) && l.ExitAt.Sub(at) < p.cfg.MaxJourney {
			// The exit of this journey came first and was charged the
			// maximum fare for its missing entry. Pricing it again from
			// both taps needs the entry recorded on the closed journey,
			// which the Store does not do: the maximum fare stands, and
			// is not charged a second time by opening a new journey.
			zero := decimal.Zero
			return Effect{Journey: l, Decision: p.decision(t, proto.ReasonOK, &zero, &balance, textLateEntry)}, nil
		}
		if j := r.Open; j != nil && j.EntryAt.After(at) {
			// The rider entered again (recorded) after this entry:
			// closing the newer journey for it would charge a missing
			// exit that is not missing.
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
