package settlepg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/ledger"
)

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// post writes one balanced transaction and moves the balances it touches;
// see postAll.
func post(ctx context.Context, tx pgx.Tx, t ledger.Transaction, at time.Time) error {
	return postAll(ctx, tx, []ledger.Transaction{t}, at, nil)
}

// OpenRiderAccount creates the account of a VNeID subject if it does not
// exist (linking VNeID to vnpass) and returns it.
func (s *Store) OpenRiderAccount(ctx context.Context, subject string) (ledger.Account, error) {
	id := ledger.Rider(subject)
	if _, err := s.pool.Exec(ctx, `INSERT INTO accounts (id, kind, subject) VALUES ($1, 'rider', $2)
		ON CONFLICT (id) DO NOTHING`, string(id), subject); err != nil {
		return ledger.Account{}, fmt.Errorf("settlepg: open account: %w", err)
	}
	return s.Account(ctx, id)
}

// Account reads one account.
func (s *Store) Account(ctx context.Context, id ledger.AccountID) (ledger.Account, error) {
	a := ledger.Account{ID: id}
	var subject *string
	err := s.pool.QueryRow(ctx, "SELECT subject, status, balance FROM accounts WHERE id = $1", string(id)).
		Scan(&subject, &a.Status, &a.Balance)
	if errors.Is(err, pgx.ErrNoRows) {
		return ledger.Account{}, fmt.Errorf("%w: %s", ledger.ErrNoAccount, id)
	}
	if err != nil {
		return ledger.Account{}, fmt.Errorf("settlepg: account %s: %w", id, err)
	}
	if subject != nil {
		a.Subject = *subject
	}
	return a, nil
}

// Post writes a balanced transaction outside the tap path (top-ups,
// refunds). Posting the same idempotency key again changes nothing and
// returns ledger.ErrDuplicate.
func (s *Store) Post(ctx context.Context, t ledger.Transaction) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error { return post(ctx, tx, t, s.now()) })
	if err != nil && !errors.Is(err, ledger.ErrDuplicate) && !errors.Is(err, ledger.ErrKeyConflict) {
		return fmt.Errorf("settlepg: %w", err)
	}
	return err
}

// Books is the state of the whole ledger, for reconciliation.
type Books struct {
	Transactions  int64
	Entries       int64
	Debits        decimal.Decimal // sum of negative entries, as a positive number
	Credits       decimal.Decimal // sum of positive entries
	UnbalancedTx  int64           // transactions whose entries do not sum to zero
	BalanceDrift  int64           // accounts whose stored balance differs from their entries
	SumOfBalances decimal.Decimal
}

// Books checks the ledger: debits equal credits, every transaction balances
// and every stored balance equals the sum of its entries.
func (s *Store) Books(ctx context.Context) (Books, error) {
	var b Books
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM ledger_transactions),
		(SELECT count(*) FROM ledger_entries),
		(SELECT coalesce(-sum(amount), 0) FROM ledger_entries WHERE amount < 0),
		(SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE amount > 0),
		(SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(amount) <> 0) u),
		(SELECT count(*) FROM accounts a WHERE a.balance <> coalesce((SELECT sum(amount) FROM ledger_entries e WHERE e.account_id = a.id), 0)),
		(SELECT coalesce(sum(balance), 0) FROM accounts)`).
		Scan(&b.Transactions, &b.Entries, &b.Debits, &b.Credits, &b.UnbalancedTx, &b.BalanceDrift, &b.SumOfBalances)
	if err != nil {
		return Books{}, fmt.Errorf("settlepg: books: %w", err)
	}
	return b, nil
}

// Balanced reports whether the books are in order.
func (b Books) Balanced() bool {
	return b.Debits.Equal(b.Credits) && b.UnbalancedTx == 0 && b.BalanceDrift == 0 && b.SumOfBalances.IsZero()
}

// sameAsPosted tells a repeated request (ErrDuplicate) from a reused key
// (ErrKeyConflict) by comparing with the entries posted under the key.
func sameAsPosted(ctx context.Context, tx pgx.Tx, t ledger.Transaction) error {
	rows, err := tx.Query(ctx, `SELECT e.account_id, e.amount FROM ledger_entries e
		JOIN ledger_transactions t ON t.id = e.transaction_id WHERE t.idempotency_key = $1`, t.Key)
	if err != nil {
		return fmt.Errorf("post %s: %w", t.Key, err)
	}
	var posted []ledger.Entry
	for rows.Next() {
		var e ledger.Entry
		var acct string
		if err := rows.Scan(&acct, &e.Amount); err != nil {
			rows.Close()
			return err
		}
		e.Account = ledger.AccountID(acct)
		posted = append(posted, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if ledger.SameEntries(posted, t.Entries) {
		return fmt.Errorf("%w: %s", ledger.ErrDuplicate, t.Key)
	}
	return fmt.Errorf("%w: %s", ledger.ErrKeyConflict, t.Key)
}

// PostBatch writes many balanced transactions in one database transaction
// (bulk top-ups, daily collections). It is all or nothing: a key posted
// before fails the batch with ledger.ErrDuplicate or ledger.ErrKeyConflict.
func (s *Store) PostBatch(ctx context.Context, txs []ledger.Transaction) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error { return postAll(ctx, tx, txs, s.now(), nil) })
	if err != nil && !errors.Is(err, ledger.ErrDuplicate) && !errors.Is(err, ledger.ErrKeyConflict) {
		return fmt.Errorf("settlepg: %w", err)
	}
	return err
}

// OpenRiderAccounts opens many rider accounts at once (bulk enrolment).
func (s *Store) OpenRiderAccounts(ctx context.Context, subjects []string) error {
	ids := make([]string, len(subjects))
	for i, sub := range subjects {
		ids[i] = string(ledger.Rider(sub))
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO accounts (id, kind, subject)
		SELECT id, 'rider', subject FROM unnest($1::text[], $2::text[]) AS u(id, subject)
		ON CONFLICT (id) DO NOTHING`, ids, subjects)
	if err != nil {
		return fmt.Errorf("settlepg: open accounts: %w", err)
	}
	return nil
}
