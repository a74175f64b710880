package settlepg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/ledger"
)

// RefundJourney posts an operator's refund on a journey: from the revenue of
// the operator that carried it back to the rider, with the reason and who
// gave it in the memo, never more than the rider paid for the journey net
// of earlier refunds (ledger.ErrRefundTooLarge). key makes it idempotent
// per journey. It returns the ledger transaction id.
func (s *Store) RefundJourney(ctx context.Context, journeyID int64, amount decimal.Decimal, reason, by, key string) (int64, error) {
	var txID int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var subject, operator string
		err := tx.QueryRow(ctx, "SELECT subject, operator_id FROM journeys WHERE id = $1", journeyID).Scan(&subject, &operator)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %d", explain.ErrNoJourney, journeyID)
		}
		if err != nil {
			return err
		}
		// Lock the rider so that two refunds cannot both pass the check.
		if _, err := tx.Exec(ctx, "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", string(ledger.Rider(subject))); err != nil {
			return err
		}
		t, err := ledger.Transfer(fmt.Sprintf("refund:%d:%s", journeyID, key), "refund", reason+" (by "+by+")",
			ledger.OperatorRevenue(operator), ledger.Rider(subject), amount)
		if err != nil {
			return err
		}
		t.JourneyID = journeyID
		var paid decimal.Decimal
		if err := tx.QueryRow(ctx, `SELECT coalesce(-sum(e.amount), 0) FROM ledger_entries e
			JOIN ledger_transactions t ON t.id = e.transaction_id
			WHERE t.journey_id = $1 AND e.account_id = $2`, journeyID, string(ledger.Rider(subject))).Scan(&paid); err != nil {
			return err
		}
		if err := post(ctx, tx, t, s.now()); err != nil {
			return err // a repeat (ErrDuplicate) is checked before the amount: it moved nothing
		}
		if amount.GreaterThan(paid) {
			return fmt.Errorf("%w: %s asked, %s paid", ledger.ErrRefundTooLarge, amount, paid)
		}
		return tx.QueryRow(ctx, "SELECT id FROM ledger_transactions WHERE idempotency_key = $1", t.Key).Scan(&txID)
	})
	if err != nil {
		if errors.Is(err, ledger.ErrDuplicate) {
			s.pool.QueryRow(ctx, "SELECT id FROM ledger_transactions WHERE idempotency_key = $1",
				fmt.Sprintf("refund:%d:%s", journeyID, key)).Scan(&txID)
			return txID, err
		}
		return 0, fmt.Errorf("settlepg: refund journey %d: %w", journeyID, err)
	}
	return txID, nil
}
