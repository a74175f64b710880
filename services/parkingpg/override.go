package parkingpg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/services/settlepg"
)

// Errors of the attendant's and the rider's requests.
var (
	ErrUnknownLot   = errors.New("parkingpg: no such lot")
	ErrInvalid      = errors.New("parkingpg: invalid request")
	ErrNoSession    = errors.New("parkingpg: no open session for that plate")
	ErrNoTariff     = errors.New("parkingpg: the lot takes no vehicles of that class")
	ErrKeyConflict  = errors.New("parkingpg: idempotency key already used for another request")
	ErrInsufficient = ledger.ErrInsufficientFunds
)

// Override is an attendant opening a barrier by hand, recorded with the
// attendant's identity (their token's subject and role).
type Override struct {
	ID        int64           `json:"id"`
	Lot       string          `json:"lot"`
	Action    string          `json:"action"` // entry: let a vehicle in; exit: let it out
	Subject   string          `json:"subject,omitempty"`
	Plate     string          `json:"plate"`
	Class     parking.Class   `json:"class,omitempty"` // entry: the class when the plate does not tell (a large vehicle)
	Reason    string          `json:"reason"`
	Waive     bool            `json:"waive,omitempty"` // exit: no fee
	Attendant string          `json:"attendant"`
	Role      string          `json:"role"`
	Key       string          `json:"idempotency_key"`
	Session   int64           `json:"session,omitempty"`
	Fee       decimal.Decimal `json:"fee_vnd"`
	Quote     *parking.Quote  `json:"quote,omitempty"`
	At        time.Time       `json:"at"`
}

// RecordOverride applies an override once per key. An exit closes the
// plate's open session at the lot at its tariff's fee (charged to the
// rider's account) or waived; an entry opens a session whatever the
// barrier rules say (the vehicle is let in). A repeated key returns the
// override recorded then.
func (s *Store) RecordOverride(ctx context.Context, o Override) (Override, error) {
	lot, ok := s.cat.Lot(o.Lot)
	if !ok {
		return Override{}, ErrUnknownLot
	}
	o.Plate = parking.NormalizePlate(o.Plate)
	if o.Plate == "" || o.Reason == "" || o.Attendant == "" || o.Key == "" || (o.Action != "entry" && o.Action != "exit") {
		return Override{}, fmt.Errorf("%w: action (entry, exit), plate, reason and idempotency_key are required", ErrInvalid)
	}
	o.At = s.now()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT 1 FROM parking_lots WHERE id = $1 FOR UPDATE", lot.ID); err != nil {
			return err
		}
		var prev Override
		var subject *string
		err := tx.QueryRow(ctx, `SELECT id, lot, action, subject, plate, reason, waived, attendant, role, coalesce(session_id, 0), coalesce(fee, 0), at
			FROM parking_overrides WHERE key = $1`, o.Key).Scan(&prev.ID, &prev.Lot, &prev.Action, &subject, &prev.Plate, &prev.Reason,
			&prev.Waive, &prev.Attendant, &prev.Role, &prev.Session, &prev.Fee, &prev.At)
		if err == nil {
			if prev.Lot != o.Lot || prev.Action != o.Action || prev.Plate != o.Plate {
				return ErrKeyConflict
			}
			if subject != nil {
				prev.Subject = *subject
			}
			prev.Key = o.Key
			o = prev
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO parking_overrides (lot, action, subject, plate, reason, attendant, role, waived, key, at)
			VALUES ($1, $2, nullif($3, ''), $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			lot.ID, o.Action, o.Subject, o.Plate, o.Reason, o.Attendant, o.Role, o.Waive, o.Key, o.At).Scan(&o.ID); err != nil {
			return err
		}
		if o.Action == "entry" {
			return s.overrideEntry(ctx, tx, lot, &o)
		}
		return s.overrideExit(ctx, tx, lot, &o)
	})
	if err != nil {
		if errors.Is(err, ErrKeyConflict) || errors.Is(err, ErrNoTariff) || errors.Is(err, ErrNoSession) {
			return Override{}, err
		}
		return Override{}, fmt.Errorf("parkingpg: override: %w", err)
	}
	return o, nil
}

func (s *Store) overrideEntry(ctx context.Context, tx pgx.Tx, lot *parking.Lot, o *Override) error {
	class := o.Class
	if class == "" {
		c, err := parking.ClassOf(o.Plate)
		if err != nil {
			return fmt.Errorf("%w: %v; give the class", ErrInvalid, err)
		}
		class = c
	}
	t := lot.Tariffs[class]
	if t == nil {
		return ErrNoTariff
	}
	o.Class = class
	if o.Subject != "" {
		var open bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM parking_sessions WHERE lot = $1 AND subject = $2 AND status = 'open')`,
			lot.ID, o.Subject).Scan(&open); err != nil {
			return err
		}
		if open {
			return fmt.Errorf("%w: the rider already has a session open here", ErrInvalid)
		}
	}
	if err := tx.QueryRow(ctx, `INSERT INTO parking_sessions (lot, subject, plate, class, tariff, entry_at, status, override_id)
		VALUES ($1, nullif($2, ''), $3, $4, $5, $6, 'open', $7) RETURNING id`,
		lot.ID, o.Subject, o.Plate, string(class), t.ID, o.At, o.ID).Scan(&o.Session); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE parking_overrides SET session_id = $2 WHERE id = $1`, o.ID, o.Session)
	return err
}

func (s *Store) overrideExit(ctx context.Context, tx pgx.Tx, lot *parking.Lot, o *Override) error {
	ses, err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionCols+` FROM parking_sessions
		WHERE lot = $1 AND plate = $2 AND status = 'open' ORDER BY entry_at LIMIT 1`, lot.ID, o.Plate))
	if err != nil {
		return err
	}
	if ses == nil {
		return ErrNoSession
	}
	o.Session, o.Fee = ses.ID, decimal.Zero
	rule := fmt.Sprintf("override:%d", o.ID)
	t := lot.Tariffs[ses.Class]
	if !o.Waive && t != nil {
		subs, err := subscriptions(ctx, tx, lot.ID, ses.Plate, ses.EntryAt)
		if err != nil {
			return err
		}
		q, err := t.Quote(ses.EntryAt, o.At, subs)
		if err != nil {
			return err
		}
		o.Quote, o.Fee = &q, q.Amount
	}
	if ses.Subject == "" {
		// An attendant's entry of an unknown rider: paid at the booth.
		o.Fee = decimal.Zero
	}
	if _, err := tx.Exec(ctx, `UPDATE parking_sessions SET exit_at = $2, status = 'closed', fee = $3, rule = $4, override_id = $5
		WHERE id = $1`, ses.ID, o.At, o.Fee.String(), rule, o.ID); err != nil {
		return err
	}
	if o.Subject == "" {
		o.Subject = ses.Subject
	}
	if _, err := tx.Exec(ctx, `UPDATE parking_overrides SET session_id = $2, fee = $3, subject = nullif($4, '') WHERE id = $1`,
		o.ID, ses.ID, o.Fee.String(), o.Subject); err != nil {
		return err
	}
	if o.Fee.IsPositive() {
		txn, err := ledger.Transfer("parking-override:"+o.Key, "parking",
			fmt.Sprintf("parking %s session %d %s, opened by %s: %s", lot.ID, ses.ID, ses.Plate, o.Attendant, o.Reason),
			ledger.Rider(ses.Subject), ledger.OperatorRevenue(lot.Operator), o.Fee)
		if err != nil {
			return err
		}
		return settlepg.PostTx(ctx, tx, o.At, txn)
	}
	return nil
}

// SubscriptionRequest buys a month subscription at a lot for a plate.
type SubscriptionRequest struct {
	Lot, Subject, Plate, Key string
}

// BuySubscription sells a month subscription for the plate at the lot,
// paid from the rider's account (a prepaid balance must cover it), valid
// from the start of today (local) for a month. A repeated key returns the
// subscription bought then.
func (s *Store) BuySubscription(ctx context.Context, r SubscriptionRequest) (parking.Subscription, decimal.Decimal, error) {
	lot, ok := s.cat.Lot(r.Lot)
	if !ok {
		return parking.Subscription{}, decimal.Zero, ErrUnknownLot
	}
	plate := parking.NormalizePlate(r.Plate)
	class, err := parking.ClassOf(r.Plate)
	if err != nil || r.Key == "" || r.Subject == "" {
		return parking.Subscription{}, decimal.Zero, fmt.Errorf("%w: a plate, a subject and an idempotency_key are required", ErrInvalid)
	}
	t := lot.Tariffs[class]
	if t == nil || !t.Month.IsPositive() {
		return parking.Subscription{}, decimal.Zero, ErrNoTariff
	}
	now := s.now()
	from, until := parking.SubscriptionPeriod(now)
	sub := parking.Subscription{Plate: plate, Tariff: t.ID, From: from, Until: until}
	key := "parking-sub:" + r.Key
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var prevSubject string
		err := tx.QueryRow(ctx, `SELECT id, subject, plate, tariff, valid_from, valid_until FROM parking_subscriptions WHERE key = $1`, key).
			Scan(&sub.ID, &prevSubject, &sub.Plate, &sub.Tariff, &sub.From, &sub.Until)
		if err == nil {
			if prevSubject != r.Subject || sub.Plate != plate {
				return ErrKeyConflict
			}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		acct, err := settlepg.LockRider(ctx, tx, r.Subject)
		if err != nil {
			return err
		}
		if !acct.Exists {
			return ledger.ErrNoAccount
		}
		if !acct.Postpaid && acct.Balance.LessThan(t.Month) {
			return ErrInsufficient
		}
		if err := tx.QueryRow(ctx, `INSERT INTO parking_subscriptions (lot, subject, plate, tariff, valid_from, valid_until, price, key, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			lot.ID, r.Subject, plate, t.ID, from, until, t.Month.String(), key, now).Scan(&sub.ID); err != nil {
			return err
		}
		txn, err := ledger.Transfer(key, "parking_subscription", fmt.Sprintf("parking %s month subscription %d %s", lot.ID, sub.ID, plate),
			ledger.Rider(r.Subject), ledger.OperatorRevenue(lot.Operator), t.Month)
		if err != nil {
			return err
		}
		return settlepg.PostTx(ctx, tx, now, txn)
	})
	if err != nil {
		return parking.Subscription{}, decimal.Zero, err
	}
	return sub, t.Month, nil
}
