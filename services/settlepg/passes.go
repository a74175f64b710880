package settlepg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
)

// BuyPass records a pass and posts its payment in one transaction, if the
// rider's balance covers it. The same idempotency key again returns the
// pass bought then (ledger.ErrDuplicate), a different pass under it
// ledger.ErrKeyConflict.
func (s *Store) BuyPass(ctx context.Context, subject string, p fare.Pass, pay ledger.Transaction) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var product string
		err := tx.QueryRow(ctx, "SELECT id, product_id FROM passes WHERE idempotency_key = $1", pay.Key).Scan(&id, &product)
		if err == nil {
			if product != p.ProductID {
				return fmt.Errorf("%w: %s", ledger.ErrKeyConflict, pay.Key)
			}
			return fmt.Errorf("%w: %s", ledger.ErrDuplicate, pay.Key)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var status string
		price := p.Amount
		var balance decimal.Decimal
		if err := tx.QueryRow(ctx, "SELECT status, balance FROM accounts WHERE id = $1 FOR UPDATE",
			string(ledger.Rider(subject))).Scan(&status, &balance); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s", ledger.ErrNoAccount, subject)
		} else if err != nil {
			return err
		}
		if balance.LessThan(price) {
			return fmt.Errorf("%w: balance %s, price %s", ledger.ErrInsufficientFunds, balance, price)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO passes (subject, product_id, network_id, category, amount, price_rule,
			valid_from, valid_until, idempotency_key, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			subject, p.ProductID, p.NetworkID, p.Category, p.Amount, p.RuleID, p.ValidFrom, p.ValidUntil, pay.Key, s.now()).
			Scan(&id); err != nil {
			return err
		}
		if p.Amount.IsPositive() {
			return post(ctx, tx, pay, s.now())
		}
		return nil
	})
	if err != nil && !errors.Is(err, ledger.ErrDuplicate) {
		return 0, fmt.Errorf("settlepg: buy pass: %w", err)
	}
	return id, err
}
