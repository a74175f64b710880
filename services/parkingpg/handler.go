package parkingpg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/settlepg"
)

// Config of a Handler; zero durations take the metro's defaults.
type Config struct {
	Store    *Store
	Verifier identity.Verifier
	Topics   proto.Topics
	Now      func() time.Time
	// MaxTapAge is the barriers' decision timeout and Budget what is kept
	// of it for commit and delivery: an older tap is refused (the barrier
	// stopped waiting), as at metro gates. Defaults 2 s and 250 ms.
	MaxTapAge, Budget time.Duration
	// MaxClockSkew: how far in the future a capture may be. Default 5 s.
	MaxClockSkew time.Duration
	// MaxOfflineAge: how old a tap a barrier decided offline may be and
	// still be settled. Default 7 days.
	MaxOfflineAge time.Duration
	// Rules are the barrier rules; RetapWindow defaults to 2 minutes,
	// DebtLimit to 30.000 ₫.
	Rules parking.Rules
}

// Handler decides the taps of parking barriers (admission.TapHandler):
// decode, verify the VNeID assertion, then in one transaction on the lot
// (locked) claim the assertion id, lock the rider's account, apply the
// barrier rules, open or close the session, post the fee to the lot's
// operator and record the tap with the decision bytes, keyed by its event
// id (a redelivery gets the same bytes back).
type Handler struct {
	cfg   Config
	Stats Stats
}

// Stats counts what the handler saw.
type Stats struct {
	Malformed, Duplicates, StoreErrors, Entries, Exits, Opened, Refused atomic.Int64
}

var _ admission.TapHandler = (*Handler)(nil)

// NewHandler validates cfg and applies its defaults.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Verifier == nil {
		return nil, errors.New("parkingpg: store and verifier are required")
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
		return nil, errors.New("parkingpg: budget must be below the maximum tap age")
	}
	if cfg.MaxClockSkew <= 0 {
		cfg.MaxClockSkew = 5 * time.Second
	}
	if cfg.MaxOfflineAge <= 0 {
		cfg.MaxOfflineAge = 7 * 24 * time.Hour
	}
	if cfg.Rules.RetapWindow <= 0 {
		cfg.Rules.RetapWindow = 2 * time.Minute
	}
	if !cfg.Rules.DebtLimit.IsPositive() {
		cfg.Rules.DebtLimit = decimal.NewFromInt(30000)
	}
	return &Handler{cfg: cfg}, nil
}

// tapRecord is a tap as the store records it.
type tapRecord struct {
	tap        proto.Tap
	receivedAt time.Time
	subject    string
	jti        string
	expiresAt  time.Time
	refuse     proto.Reason // decided before the store: too old, unknown lot, assertion
}

// Handle decides one barrier tap; see admission.Processor.Handle for the
// contract.
func (h *Handler) Handle(ctx context.Context, topic string, payload []byte) (admission.Reply, error) {
	t, err := proto.DecodeTap(payload)
	if err != nil {
		h.Stats.Malformed.Add(1)
		return admission.Reply{}, err
	}
	_, site, device, err := h.cfg.Topics.Parse(topic)
	if err != nil || site != t.Site || device != t.Device {
		h.Stats.Malformed.Add(1)
		return admission.Reply{}, fmt.Errorf("%w: tap for %s/%s arrived on topic %q", proto.ErrMalformed, t.Site, t.Device, topic)
	}
	rec := tapRecord{tap: t, receivedAt: h.cfg.Now()}
	_, known := h.cfg.Store.cat.Lot(t.Site)
	switch {
	case t.Kind != proto.KindParkingEntry && t.Kind != proto.KindParkingExit:
		rec.refuse = proto.ReasonWrongKind
	case t.Offline == nil && h.tooOld(t, rec.receivedAt):
		rec.refuse = proto.ReasonTapTooOld
	case t.Offline != nil && rec.receivedAt.Sub(t.CapturedAt.Time) > h.cfg.MaxOfflineAge:
		rec.refuse = proto.ReasonTapTooOld
	case t.CapturedAt.Sub(rec.receivedAt) > h.cfg.MaxClockSkew:
		rec.refuse = proto.ReasonDeviceClock
	case !known:
		rec.refuse = proto.ReasonUnknownSite
	}
	if rec.refuse == "" {
		a, err := h.verify(ctx, t)
		if err != nil {
			rec.refuse = assertionReason(err)
		} else {
			rec.subject, rec.jti, rec.expiresAt = a.Subject, a.JTI, a.ExpiresAt
		}
	}
	out, dup, reason, err := h.cfg.Store.admit(ctx, rec, h)
	if err != nil {
		h.Stats.StoreErrors.Add(1)
		return admission.Reply{}, fmt.Errorf("parkingpg: tap %s: %w", t.EventID, err)
	}
	reply := admission.Reply{Topic: h.cfg.Topics.Decisions(t.Site, t.Device), Payload: out, EventID: t.EventID, Dup: dup}
	if dup {
		h.Stats.Duplicates.Add(1)
		return reply, nil
	}
	reply.Reason = reason
	if t.Kind == proto.KindParkingEntry {
		h.Stats.Entries.Add(1)
	} else {
		h.Stats.Exits.Add(1)
	}
	if reason == proto.ReasonOK {
		h.Stats.Opened.Add(1)
	} else {
		h.Stats.Refused.Add(1)
	}
	return reply, nil
}

func (h *Handler) tooOld(t proto.Tap, now time.Time) bool {
	return now.Sub(t.CapturedAt.Time) > h.cfg.MaxTapAge-h.cfg.Budget
}

// verify checks the assertion: at capture time for a tap decided offline.
func (h *Handler) verify(ctx context.Context, t proto.Tap) (identity.Assertion, error) {
	if t.Offline != nil {
		if va, ok := h.cfg.Verifier.(identity.VerifierAt); ok {
			return va.VerifyAt(ctx, t.Assertion, t.Device, t.CapturedAt.Time)
		}
	}
	return h.cfg.Verifier.Verify(ctx, t.Assertion, t.Device)
}

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

// outcome is what deciding one tap produced.
type outcome struct {
	reason  proto.Reason
	text    proto.Display
	fee     *decimal.Decimal
	balance *decimal.Decimal
	session int64
}

// admit records one tap and applies its effect exactly once.
func (s *Store) admit(ctx context.Context, rec tapRecord, h *Handler) (payload []byte, dup bool, reason proto.Reason, err error) {
	t := rec.tap
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		payload, dup, reason = nil, false, ""
		lot, known := s.cat.Lot(t.Site)
		if known {
			// Every decision in a lot holds the lot: occupancy is counted
			// and changed by one tap at a time.
			if _, err := tx.Exec(ctx, "SELECT 1 FROM parking_lots WHERE id = $1 FOR UPDATE", lot.ID); err != nil {
				return err
			}
		}
		err := tx.QueryRow(ctx, "SELECT decision FROM parking_taps WHERE event_id = $1", t.EventID).Scan(&payload)
		if err == nil {
			dup = true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var o outcome
		switch {
		case rec.refuse != "":
			o = outcome{reason: rec.refuse, text: rec.refuse.Display()}
		case t.Offline != nil && !t.Offline.Open:
			// The barrier refused by itself: recorded as it decided.
			o = outcome{reason: t.Offline.Reason, text: t.Offline.Reason.Display()}
		default:
			held, err := settlepg.ClaimAssertion(ctx, tx, rec.jti, t.EventID, rec.expiresAt)
			if err != nil {
				return err
			}
			if !held {
				o = outcome{reason: proto.ReasonAssertionReplayed, text: proto.ReasonAssertionReplayed.Display()}
				break
			}
			if o, err = s.decide(ctx, tx, rec, lot, h.cfg.Rules); err != nil {
				return err
			}
		}
		d := proto.Decision{EventID: t.EventID, Open: o.reason == proto.ReasonOK, Reason: o.reason, Display: o.text, DecidedAt: proto.At(h.cfg.Now())}
		if o.fee != nil {
			v := o.fee.IntPart()
			d.FareVND = &v
		}
		if o.balance != nil {
			v := money.Round(*o.balance).IntPart()
			d.BalanceVND = &v
			d.Display.VI += " · Số dư " + money.Format(*o.balance)
			d.Display.EN += " · Balance " + money.Format(*o.balance)
		}
		if payload, err = d.Encode(); err != nil {
			return err
		}
		var offline []byte
		if t.Offline != nil {
			if offline, err = json.Marshal(t.Offline); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO parking_taps (event_id, device, lot, kind, subject, plate, captured_at, received_at,
			open, reason, fee, balance, session_id, offline, decision)
			VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7, $8, $9, $10, $11, $12, nullif($13, 0), $14, $15)`,
			t.EventID, t.Device, t.Site, string(t.Kind), rec.subject, parking.NormalizePlate(t.Plate), t.CapturedAt.Time, rec.receivedAt,
			d.Open, string(d.Reason), nullDec(o.fee), nullDec(o.balance), o.session, offline, payload)
		reason = d.Reason
		return err
	})
	return payload, dup, reason, err
}

func nullDec(d *decimal.Decimal) any {
	if d == nil {
		return nil
	}
	return d.String()
}

// decide reads the rider and the lot, applies the barrier rules and writes
// their effect: a session opened or closed and its fee posted.
func (s *Store) decide(ctx context.Context, tx pgx.Tx, rec tapRecord, lot *parking.Lot, rules parking.Rules) (outcome, error) {
	t := rec.tap
	at := t.CapturedAt.Time
	acct, err := settlepg.LockRider(ctx, tx, rec.subject)
	if err != nil {
		return outcome{}, err
	}
	rider := parking.Rider{Exists: acct.Exists, Status: acct.Status, Postpaid: acct.Postpaid, Balance: acct.Balance, DebtSince: acct.DebtSince}
	if rider.Open, err = scanSession(tx.QueryRow(ctx, `SELECT `+sessionCols+` FROM parking_sessions
		WHERE lot = $1 AND subject = $2 AND status = 'open'`, lot.ID, rec.subject)); err != nil {
		return outcome{}, err
	}
	if rider.LastClosed, err = scanSession(tx.QueryRow(ctx, `SELECT `+sessionCols+` FROM parking_sessions
		WHERE lot = $1 AND subject = $2 AND status = 'closed' ORDER BY exit_at DESC LIMIT 1`, lot.ID, rec.subject)); err != nil {
		return outcome{}, err
	}
	honour := t.Offline != nil && t.Offline.Open
	balance := acct.Balance
	if !acct.Exists || acct.Status == "closed" && !honour {
		// Nobody to charge (a barrier that opened offline for a closed
		// account still has its session settled).
		return outcome{reason: proto.ReasonNoAccount, text: proto.ReasonNoAccount.Display()}, nil
	}
	if t.Kind == proto.KindParkingEntry {
		var e parking.Entry
		if honour {
			e = rules.HonourEntry(at, t.Plate, rider, lot)
		} else {
			g := parking.Gate{Lot: lot}
			if g.Occupancy, err = occupancyTx(ctx, tx, lot.ID); err != nil {
				return outcome{}, err
			}
			plate := parking.NormalizePlate(t.Plate)
			if g.PlateInside, err = scanSession(tx.QueryRow(ctx, `SELECT `+sessionCols+` FROM parking_sessions
				WHERE lot = $1 AND plate = $2 AND status = 'open' LIMIT 1`, lot.ID, plate)); err != nil {
				return outcome{}, err
			}
			if g.Subs, err = subscriptions(ctx, tx, lot.ID, plate, at); err != nil {
				return outcome{}, err
			}
			e = rules.DecideEntry(at, t.Plate, rider, g)
		}
		o := outcome{reason: proto.Reason(e.Code), text: proto.Display{VI: e.Text.VI, EN: e.Text.EN}}
		if e.Code != parking.OK {
			if acct.Exists {
				o.balance = &balance
			}
			return o, nil
		}
		if n := e.New; n != nil {
			if err := tx.QueryRow(ctx, `INSERT INTO parking_sessions (lot, subject, plate, class, tariff, entry_event, entry_at, status, entry_offline)
				VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8) RETURNING id`,
				lot.ID, rec.subject, n.Plate, string(n.Class), n.Tariff, t.EventID, at, honour).Scan(&n.ID); err != nil {
				return outcome{}, err
			}
		}
		o.session, o.balance = e.Session.ID, &balance
		return o, nil
	}

	var subs []parking.Subscription
	if rider.Open != nil {
		if subs, err = subscriptions(ctx, tx, lot.ID, rider.Open.Plate, rider.Open.EntryAt); err != nil {
			return outcome{}, err
		}
	}
	x, err := rules.DecideExit(at, t.Plate, rider, lot, subs, honour)
	if err != nil {
		return outcome{}, err
	}
	o := outcome{reason: proto.Reason(x.Code), text: proto.Display{VI: x.Text.VI, EN: x.Text.EN}}
	if acct.Exists {
		o.balance = &balance
	}
	if x.Session != nil {
		o.session = x.Session.ID
	}
	c := x.Close
	if x.Code != parking.OK || c == nil {
		if honour && x.Code != parking.OK {
			// The barrier let the vehicle out offline with no session
			// here: recorded, nothing to charge.
			o.reason, o.text = proto.ReasonOK, proto.Display{VI: "Lượt ra ngoại tuyến không có lượt vào: không thu phí", EN: "Offline exit with no entry: nothing charged"}
		}
		return o, nil
	}
	tag, err := tx.Exec(ctx, `UPDATE parking_sessions SET exit_event = $2, exit_at = $3, status = 'closed', fee = $4, rule = $5,
		subscription_id = nullif($6, 0), exit_offline = $7 WHERE id = $1 AND status = 'open'`,
		c.ID, t.EventID, c.ExitAt, c.Fee.String(), c.Rule, c.Subscription, honour)
	if err != nil {
		return outcome{}, err
	}
	if tag.RowsAffected() != 1 {
		return outcome{}, fmt.Errorf("session %d not open", c.ID)
	}
	fee := c.Fee
	o.fee = &fee
	if fee.IsPositive() {
		if !acct.Exists {
			return outcome{}, fmt.Errorf("session %d: no account to charge", c.ID)
		}
		txn, err := ledger.Transfer("parking:"+t.EventID, "parking",
			fmt.Sprintf("parking %s session %d %s", lot.ID, c.ID, c.Plate), ledger.Rider(rec.subject), ledger.OperatorRevenue(lot.Operator), fee)
		if err != nil {
			return outcome{}, err
		}
		if err := settlepg.PostTx(ctx, tx, at, txn); err != nil {
			return outcome{}, err
		}
		balance = balance.Sub(fee)
	}
	return o, nil
}
