package agent

import (
	"context"
	"errors"
	"time"

	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/proto"
)

// Offline decisions.
//
// When the cloud cannot answer (the broker is unreachable, or a tap waited
// the whole decision timeout in vain) the gate decides by itself, from what
// it has, and says why in the tap (proto.OfflineDecision.Rule), so that
// every offline decision can be explained later:
//
//	no_keys          no VNeID keys to verify with: refused (offline_unavailable)
//	assertion        the assertion does not verify at its capture time: refused
//	                 with the reason the cloud would give
//	exit             an exit with a verified assertion: opens (a rider is
//	                 never held inside)
//	no_plate         a parking entry whose plate was not read: refused (the
//	                 cloud could not match the vehicle at the exit)
//	deny_list_stale  an entry while the deny list is older than the policy
//	                 allows, or there is none: refused (offline_unavailable)
//	deny_list        an entry by a rider on the deny list: refused (account_suspended)
//	pass_back        a second entry through this gate within the pass-back
//	                 window: refused (pass_back)
//	offline_limit    the rider's offline entries today are used up: refused
//	verified         an entry that passes every check: opens
//
// The checks run in that order; the policy, the deny list and its version
// are the ones the cloud pushed last (remoteconfig.go). A rail gate admits
// on train tickets instead (railoffline.go): after no_keys and assertion,
// its rules are tickets_stale, ticket, ticket_used, outside_window and
// no_ticket.

// DisplayOfflineOpen is what the gate shows when it opens on its own
// decision: the rider's balance is not known here.
var DisplayOfflineOpen = proto.Display{VI: "Mời qua (cửa đang ngoại tuyến)", EN: "Please pass (gate offline)"}

// vnZone is the local time that days of the offline limit are counted in.
var vnZone = time.FixedZone("ICT", 7*3600)

// verifyTimeout bounds a local verification: an unknown kid makes the
// verifier try to fetch the keys, which offline cannot succeed.
const verifyTimeout = 300 * time.Millisecond

// entryKind reports whether a tap at a device of kind k lets someone in.
func entryKind(k proto.Kind) bool {
	return k == proto.KindMetroEntry || k == proto.KindParkingEntry || k == proto.KindRailGate
}

// parkingKind reports whether a device of kind k is a parking barrier, whose
// taps carry the plate its reader saw.
func parkingKind(k proto.Kind) bool {
	return k == proto.KindParkingEntry || k == proto.KindParkingExit
}

// judge decides tap offline. It returns the decision, the rider's subject
// when the assertion verified and, when a rail gate opens, the ticket it
// opens on. offlineMu is held.
func (a *Agent) judge(ctx context.Context, t proto.Tap) (proto.OfflineDecision, string, *proto.GateTicket) {
	st := a.st
	now := a.cfg.Now()
	a.configMu.Lock()
	policy, list, deny := st.policy, st.denyList, st.deny
	tickets, ticketsBy := st.tickets, st.ticketsBy
	a.configMu.Unlock()
	d := proto.OfflineDecision{Open: true, Reason: proto.ReasonOK, DecidedAt: proto.At(now)}
	if list != nil {
		d.DenyListVersion = list.Version
	}
	refuse := func(r proto.Reason, rule string) proto.OfflineDecision {
		d.Open, d.Reason, d.Rule = false, r, rule
		return d
	}

	v := a.cfg.Verifier
	if k, ok := v.(interface{ HasKeys() bool }); v == nil || ok && !k.HasKeys() {
		return refuse(proto.ReasonOfflineUnavailable, "no_keys"), "", nil
	}
	vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	as, err := v.VerifyAt(vctx, t.Assertion, a.cfg.Device, t.CapturedAt.Time)
	cancel()
	if err != nil {
		return refuse(assertionReason(err), "assertion"), "", nil
	}
	sub := as.Subject
	if t.Kind == proto.KindRailGate {
		if tickets != nil {
			d.TicketsVersion = tickets.Version
		}
		return a.judgeRail(d, tickets, ticketsBy[sub], sub, t.CapturedAt.Time)
	}
	if !entryKind(t.Kind) {
		d.Rule = "exit"
		return d, sub, nil
	}
	if t.Kind == proto.KindParkingEntry && t.Plate == "" {
		return refuse(proto.ReasonNoPlate, "no_plate"), sub, nil
	}
	if max := time.Duration(policy.DenyListMaxAgeH) * time.Hour; max > 0 && (list == nil || now.Sub(list.IssuedAt.Time) > max) {
		return refuse(proto.ReasonOfflineUnavailable, "deny_list_stale"), sub, nil
	}
	if _, denied := deny[sub]; denied {
		return refuse(proto.ReasonAccountSuspended, "deny_list"), sub, nil
	}
	if w := time.Duration(policy.PassBackS) * time.Second; w > 0 {
		if _, ok := st.entries.lastSince(sub, now.Add(-w)); ok {
			return refuse(proto.ReasonPassBack, "pass_back"), sub, nil
		}
	}
	local := now.In(vnZone)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, vnZone)
	if st.entries.offlineIn(sub, day, day.AddDate(0, 0, 1)) >= policy.MaxEntriesPerDay {
		return refuse(proto.ReasonOfflineLimit, "offline_limit"), sub, nil
	}
	d.Rule = "verified"
	return d, sub, nil
}

// assertionReason maps a verifier error to the reason the gate shows, as
// the cloud maps it.
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
