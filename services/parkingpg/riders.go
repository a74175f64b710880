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

// What a rider sees of their own parking (the rider's view, riderhttp's
// Parking seam) and the refund of a session's fee (a dispute's outcome).

// RiderSession is a parking session as its rider sees it: the session as
// recorded (the plate is the rider's own), its lot, what was refunded of
// its fee, and the tariff rows that price it.
type RiderSession struct {
	parking.Session
	LotName  string
	Operator string
	// Refunded is the sum of the session's refunds.
	Refunded decimal.Decimal
	// Quote prices the stay again from the tariff data and the plate's
	// subscriptions, as Explain does (an open session up to now); nil when
	// the lot or its class is no longer in the catalogue. A session an
	// attendant closed says so in Rule ("override:<id>"), and its fee may
	// differ (waived).
	Quote *parking.Quote
}

// Paid is what the rider paid for the session net of refunds.
func (r RiderSession) Paid() decimal.Decimal {
	if r.Open {
		return decimal.Zero
	}
	return r.Fee.Sub(r.Refunded)
}

// RefundKind is the ledger kind of a parking refund (clearing counts it
// with parking; it names no journey).
const RefundKind = "parking_refund"

const refundedCol = `coalesce((SELECT sum(r.amount) FROM parking_refunds r WHERE r.session_id = parking_sessions.id), 0)`

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// RiderSessions lists a rider's sessions that entered in [from, to) (a zero
// bound is open), newest entry first, at most limit (1-500, default 20).
// Sessions an attendant let in for an unknown rider name nobody and are in
// no rider's list.
func (s *Store) RiderSessions(ctx context.Context, subject string, from, to time.Time, limit int) ([]RiderSession, error) {
	if limit <= 0 || limit > 500 {
		limit = 20
	}
	if subject == "" {
		return nil, nil
	}
	var out []RiderSession
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `SELECT `+sessionCols+`, `+refundedCol+` FROM parking_sessions
			WHERE subject = $1 AND ($2::timestamptz IS NULL OR entry_at >= $2) AND ($3::timestamptz IS NULL OR entry_at < $3)
			ORDER BY entry_at DESC, id DESC LIMIT $4`, subject, nullTime(from), nullTime(to), limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r RiderSession
			ses, err := scanSession(rows, &r.Refunded)
			if err != nil {
				rows.Close()
				return err
			}
			r.Session = *ses
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return s.explainAll(ctx, tx, out)
	})
	if err != nil {
		return nil, fmt.Errorf("parkingpg: rider sessions: %w", err)
	}
	return out, nil
}

// RiderSession reads one session as its rider sees it (whoever asks: the
// caller checks that it is the rider's); ErrNoSessionID if none.
func (s *Store) RiderSession(ctx context.Context, id int64) (RiderSession, error) {
	var r RiderSession
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		ses, err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionCols+`, `+refundedCol+` FROM parking_sessions WHERE id = $1`, id), &r.Refunded)
		if err != nil {
			return err
		}
		if ses == nil {
			return ErrNoSessionID
		}
		r.Session = *ses
		one := []RiderSession{r}
		if err := s.explainAll(ctx, tx, one); err != nil {
			return err
		}
		r = one[0]
		return nil
	})
	if errors.Is(err, ErrNoSessionID) {
		return RiderSession{}, err
	}
	if err != nil {
		return RiderSession{}, fmt.Errorf("parkingpg: session %d: %w", id, err)
	}
	return r, nil
}

// explainAll fills in the lots and the quotes of sessions, reading the
// subscriptions of each plate once.
func (s *Store) explainAll(ctx context.Context, tx pgx.Tx, rs []RiderSession) error {
	since := map[[2]string]time.Time{}
	for _, r := range rs {
		k := [2]string{r.Lot, r.Plate}
		if t, ok := since[k]; !ok || r.EntryAt.Before(t) {
			since[k] = r.EntryAt
		}
	}
	subs := map[[2]string][]parking.Subscription{}
	for k, t := range since {
		ss, err := subscriptions(ctx, tx, k[0], k[1], t)
		if err != nil {
			return err
		}
		subs[k] = ss
	}
	now := s.now()
	for i := range rs {
		r := &rs[i]
		lot, ok := s.cat.Lot(r.Lot)
		if !ok {
			continue
		}
		r.LotName, r.Operator = lot.Name, lot.Operator
		t := lot.Tariffs[r.Class]
		if t == nil {
			continue
		}
		end := r.ExitAt
		if r.Open {
			end = now
		}
		if q, err := t.Quote(r.EntryAt, end, subs[[2]string{r.Lot, r.Plate}]); err == nil {
			r.Quote = &q
		}
	}
	return nil
}

// RefundSession refunds amount of a closed session's fee to its rider, from
// the revenue of the lot's operator, posted under the ledger key
// "parking-refund:<id>:<key>" and recorded in parking_refunds in the same
// transaction, with the reason and who refunded it (the memo the rider
// reads in their history). The same key again moves nothing and returns
// the transaction posted then with ledger.ErrDuplicate (another amount
// under it: ledger.ErrKeyConflict). The refunds of a session never exceed
// its fee (ledger.ErrRefundTooLarge): the rider's account is locked, so two
// refunds cannot both pass the check. ErrNoSessionID if there is no such
// session.
func (s *Store) RefundSession(ctx context.Context, sessionID int64, amount decimal.Decimal, reason, by, key string) (int64, error) {
	if reason == "" || by == "" || key == "" {
		return 0, fmt.Errorf("%w: a refund needs a reason, who made it and a key", ledger.ErrInvalid)
	}
	lkey := fmt.Sprintf("parking-refund:%d:%s", sessionID, key)
	var txID int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		txID = 0
		var subject, operator, lot, plate string
		var open bool
		var fee decimal.Decimal
		err := tx.QueryRow(ctx, `SELECT coalesce(s.subject, ''), l.operator_id, s.lot, s.plate, s.status = 'open', coalesce(s.fee, 0)
			FROM parking_sessions s JOIN parking_lots l ON l.id = s.lot WHERE s.id = $1`, sessionID).
			Scan(&subject, &operator, &lot, &plate, &open, &fee)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoSessionID
		}
		if err != nil {
			return err
		}
		if subject == "" {
			// An attendant's entry of an unknown rider: paid at the booth,
			// nothing in the ledger to refund.
			return fmt.Errorf("%w: session %d charged no account", ledger.ErrRefundTooLarge, sessionID)
		}
		// Lock the rider (as the barriers do) so that refunds of their
		// sessions are checked one at a time.
		if _, err := settlepg.LockRider(ctx, tx, subject); err != nil {
			return err
		}
		var prev decimal.Decimal
		err = tx.QueryRow(ctx, `SELECT amount, transaction_id FROM parking_refunds WHERE key = $1`, lkey).Scan(&prev, &txID)
		if err == nil {
			if prev.Equal(amount) {
				return fmt.Errorf("%w: %s", ledger.ErrDuplicate, lkey)
			}
			txID = 0
			return fmt.Errorf("%w: %s", ledger.ErrKeyConflict, lkey)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		t, err := ledger.Transfer(lkey, RefundKind, fmt.Sprintf("parking %s session %d %s: %s (by %s)", lot, sessionID, plate, reason, by),
			ledger.OperatorRevenue(operator), ledger.Rider(subject), amount)
		if err != nil {
			return err
		}
		var refunded decimal.Decimal
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0) FROM parking_refunds WHERE session_id = $1`, sessionID).Scan(&refunded); err != nil {
			return err
		}
		if paid := fee.Sub(refunded); open || amount.GreaterThan(paid) {
			return fmt.Errorf("%w: %s asked, %s paid for session %d net of refunds", ledger.ErrRefundTooLarge, amount, paid, sessionID)
		}
		now := s.now()
		if err := settlepg.PostTx(ctx, tx, now, t); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT id FROM ledger_transactions WHERE idempotency_key = $1", lkey).Scan(&txID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO parking_refunds (session_id, key, amount, reason, refunded_by, transaction_id, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, sessionID, lkey, amount.String(), reason, by, txID, now)
		return err
	})
	switch {
	case err == nil:
		return txID, nil
	case errors.Is(err, ledger.ErrDuplicate):
		return txID, err
	case errors.Is(err, ErrNoSessionID):
		return 0, err
	}
	return 0, fmt.Errorf("parkingpg: refund session %d: %w", sessionID, err)
}
