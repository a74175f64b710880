package settlepg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
)

// OperatorClearing is what one operator is owed for one local day: every
// movement on its revenue account that day, by kind.
type OperatorClearing struct {
	Operator    string
	Day         string // YYYY-MM-DD, local (UTC+7)
	Journeys    int64  // journeys with a fare movement to this operator that day
	Fares       decimal.Decimal
	Corrections decimal.Decimal // fare corrections (late exits, operators' corrections)
	Refunds     decimal.Decimal // negative: paid back to riders
	Passes      decimal.Decimal
	Parking     decimal.Decimal // parking fees and monthly parking subscriptions, net of parking refunds (lot operators)
	Other       decimal.Decimal // any other kind: should be zero
	Total       decimal.Decimal // the sum of the above
	// Ledger is the same day's movement summed straight from the ledger,
	// for the report to prove itself: Total must equal it.
	Ledger decimal.Decimal
}

// Balanced reports whether the report's total equals the ledger.
func (c OperatorClearing) Balanced() bool { return c.Total.Equal(c.Ledger) }

// dayBounds is the local day (Vietnam) holding the instant day, as an
// instant range: 17:05 UTC on the 24th is already the 25th in Hanoi.
func dayBounds(day time.Time) (time.Time, time.Time) {
	d := day.In(fare.Zone)
	return fare.Day(time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, fare.Zone))
}

// Clearing is the daily clearing report: per operator, what was credited
// to and debited from its revenue account on the local day.
func (s *Store) Clearing(ctx context.Context, day time.Time) ([]OperatorClearing, error) {
	from, to := dayBounds(day)
	rows, err := s.reader().Query(ctx, `SELECT e.account_id, t.kind, sum(e.amount),
			count(DISTINCT t.journey_id) FILTER (WHERE t.kind IN ('fare', 'fare_correction'))
		FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
		WHERE e.account_id LIKE 'operator:%' AND t.created_at >= $1 AND t.created_at < $2
		GROUP BY 1, 2 ORDER BY 1, 2`, from, to)
	if err != nil {
		return nil, fmt.Errorf("settlepg: clearing: %w", err)
	}
	defer rows.Close()
	var out []OperatorClearing
	idx := make(map[string]int)
	for rows.Next() {
		var acct, kind string
		var sum decimal.Decimal
		var journeys int64
		if err := rows.Scan(&acct, &kind, &sum, &journeys); err != nil {
			return nil, fmt.Errorf("settlepg: clearing: %w", err)
		}
		i, ok := idx[acct]
		if !ok {
			i = len(out)
			idx[acct] = i
			out = append(out, OperatorClearing{Operator: operatorOf(acct), Day: from.In(fare.Zone).Format(time.DateOnly)})
		}
		c := &out[i]
		switch kind {
		case "fare":
			c.Fares = c.Fares.Add(sum)
		case "fare_correction":
			c.Corrections = c.Corrections.Add(sum)
		case "refund":
			c.Refunds = c.Refunds.Add(sum)
		case "pass":
			c.Passes = c.Passes.Add(sum)
		case "parking", "parking_subscription", "parking_refund":
			c.Parking = c.Parking.Add(sum)
		default:
			c.Other = c.Other.Add(sum)
		}
		c.Journeys += journeys
		c.Total = c.Total.Add(sum)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("settlepg: clearing: %w", err)
	}
	rows.Close()
	for i := range out {
		c := &out[i]
		if err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
			JOIN ledger_transactions t ON t.id = e.transaction_id
			WHERE e.account_id = $1 AND t.created_at >= $2 AND t.created_at < $3`,
			string(ledger.OperatorRevenue(c.Operator)), from, to).Scan(&c.Ledger); err != nil {
			return nil, fmt.Errorf("settlepg: clearing: %w", err)
		}
	}
	return out, nil
}

func operatorOf(account string) string {
	// "operator:<id>:revenue"
	const pre, suf = "operator:", ":revenue"
	if len(account) > len(pre)+len(suf) {
		return account[len(pre) : len(account)-len(suf)]
	}
	return account
}

// Correction is an operator's change to what a journey costs.
type Correction struct {
	JourneyID int64
	NewFare   decimal.Decimal
	ExitSite  string // the exit staff established, when that is the correction; "" otherwise
	Reason    string
	By        string // who corrected it (the operator's user)
	Key       string // idempotency key from the caller
	// FareRule names what priced NewFare (e.g. the fare_leg_rules.txt row).
	FareRule string
}

// CorrectJourney sets a closed journey's fare to c.NewFare: the difference
// is posted between the rider and the operator that carried it (a refund
// when lower, a further charge when higher), the journey records the new
// fare, and the correction (who, why, from what to what) is kept. The same
// key again returns ledger.ErrDuplicate and changes nothing. It returns the
// ledger transaction id (0 when the fare did not change).
func (s *Store) CorrectJourney(ctx context.Context, c Correction) (int64, error) {
	if c.Reason == "" || c.By == "" || c.Key == "" {
		return 0, fmt.Errorf("%w: a correction needs a reason, who made it and a key", ledger.ErrInvalid)
	}
	if c.NewFare.IsNegative() || !c.NewFare.IsInteger() {
		return 0, fmt.Errorf("%w: new fare %s", ledger.ErrInvalid, c.NewFare)
	}
	key := fmt.Sprintf("correction:%d:%s", c.JourneyID, c.Key)
	var txID int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		txID = 0
		var done int64
		err := tx.QueryRow(ctx, "SELECT coalesce(transaction_id, 0) FROM journey_corrections WHERE idempotency_key = $1", key).Scan(&done)
		if err == nil {
			txID = done
			return fmt.Errorf("%w: %s", ledger.ErrDuplicate, key)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var subject, operator, status string
		var old *decimal.Decimal
		err = tx.QueryRow(ctx, "SELECT subject, operator_id, status, fare FROM journeys WHERE id = $1 FOR UPDATE", c.JourneyID).
			Scan(&subject, &operator, &status, &old)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %d", explain.ErrNoJourney, c.JourneyID)
		}
		if err != nil {
			return err
		}
		if status == "open" || old == nil {
			return fmt.Errorf("%w: journey %d is still open", ledger.ErrInvalid, c.JourneyID)
		}
		if _, err := tx.Exec(ctx, "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", string(ledger.Rider(subject))); err != nil {
			return err
		}
		diff := old.Sub(c.NewFare) // positive: the rider gets money back
		memo := c.Reason + " (by " + c.By + ")"
		if !diff.IsZero() {
			from, to := ledger.OperatorRevenue(operator), ledger.Rider(subject)
			amount := diff
			if diff.IsNegative() {
				from, to, amount = to, from, diff.Neg()
			}
			t, err := ledger.Transfer(key, "fare_correction", memo, from, to, amount)
			if err != nil {
				return err
			}
			t.JourneyID = c.JourneyID
			if err := post(ctx, tx, t, s.now()); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, "SELECT id FROM ledger_transactions WHERE idempotency_key = $1", key).Scan(&txID); err != nil {
				return err
			}
		}
		rule := c.FareRule
		if rule == "" {
			rule = "operator-correction"
		}
		if _, err := tx.Exec(ctx, `UPDATE journeys SET fare = $2, fare_rule = $3,
			exit_site = coalesce($4, exit_site), status = CASE WHEN $4::text IS NULL THEN status ELSE 'closed' END,
			export_txid = coalesce(export_txid, CASE WHEN $4::text IS NOT NULL THEN pg_current_xact_id() END)
			WHERE id = $1`, c.JourneyID, c.NewFare, rule, str(c.ExitSite)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO journey_corrections (journey_id, old_fare, new_fare, exit_site, reason,
			corrected_by, idempotency_key, transaction_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			c.JourneyID, *old, c.NewFare, str(c.ExitSite), c.Reason, c.By, key, id64(txID), s.now())
		return err
	})
	if err != nil {
		if errors.Is(err, ledger.ErrDuplicate) {
			return txID, err
		}
		return 0, fmt.Errorf("settlepg: correct journey %d: %w", c.JourneyID, err)
	}
	return txID, nil
}

// Posting is one movement on a rider's account, for the rider's history.
type Posting struct {
	TransactionID int64
	At            time.Time
	Kind          string // fare, fare_correction, refund, topup, pass, collection, ...
	Memo          string // for refunds and corrections: the reason and who gave it
	Amount        decimal.Decimal
	JourneyID     int64
}

// History lists the movements on a rider's account, newest first.
func (s *Store) History(ctx context.Context, subject string, limit int) ([]Posting, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.id, t.created_at, t.kind, t.memo, e.amount, coalesce(t.journey_id, 0)
		FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
		WHERE e.account_id = $1 ORDER BY t.id DESC LIMIT $2`, string(ledger.Rider(subject)), limit)
	if err != nil {
		return nil, fmt.Errorf("settlepg: history: %w", err)
	}
	defer rows.Close()
	var out []Posting
	for rows.Next() {
		var p Posting
		if err := rows.Scan(&p.TransactionID, &p.At, &p.Kind, &p.Memo, &p.Amount, &p.JourneyID); err != nil {
			return nil, fmt.Errorf("settlepg: history: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
