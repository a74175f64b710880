package settlepg

import (
	"context"
	"errors"
	"fmt"
	"sort"
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

// PostTx writes balanced transactions inside a transaction the caller
// holds (another package's records and the money they move, committed
// together): see postAll. Each transaction's key must be unique.
func PostTx(ctx context.Context, tx pgx.Tx, at time.Time, txs ...ledger.Transaction) error {
	return postAll(ctx, tx, txs, at, nil)
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
	err := s.pool.QueryRow(ctx, `SELECT subject, status,
		balance + coalesce((SELECT sum(balance) FROM account_shards WHERE account_id = $1), 0)
		FROM accounts WHERE id = $1`, string(id)).
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
	Orphans       int64           // entries on an account that does not exist
	SumOfBalances decimal.Decimal
}

// Books checks the ledger: debits equal credits, every transaction balances
// and every stored balance equals the sum of its entries.
func (s *Store) Books(ctx context.Context) (Books, error) {
	var b Books
	err := s.reader().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM ledger_transactions),
		(SELECT count(*) FROM ledger_entries),
		(SELECT coalesce(-sum(amount), 0) FROM ledger_entries WHERE amount < 0),
		(SELECT coalesce(sum(amount), 0) FROM ledger_entries WHERE amount > 0),
		(SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(amount) <> 0) u),
		(SELECT count(*) FROM accounts a WHERE a.balance + coalesce((SELECT sum(balance) FROM account_shards h WHERE h.account_id = a.id), 0)
			<> coalesce((SELECT sum(amount) FROM ledger_entries e WHERE e.account_id = a.id), 0)),
		(SELECT coalesce(sum(balance), 0) FROM accounts) + (SELECT coalesce(sum(balance), 0) FROM account_shards),
		(SELECT count(*) FROM ledger_entries e WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = e.account_id))`).
		Scan(&b.Transactions, &b.Entries, &b.Debits, &b.Credits, &b.UnbalancedTx, &b.BalanceDrift, &b.SumOfBalances, &b.Orphans)
	if err != nil {
		return Books{}, fmt.Errorf("settlepg: books: %w", err)
	}
	return b, nil
}

// Balanced reports whether the books are in order.
func (b Books) Balanced() bool {
	return b.Debits.Equal(b.Credits) && b.UnbalancedTx == 0 && b.BalanceDrift == 0 && b.SumOfBalances.IsZero() && b.Orphans == 0
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

// postAll writes balanced transactions and moves the balances they touch,
// with one statement per table. Every entry of a transaction goes into one
// INSERT: the database checks the balance per statement. Operator and
// provider accounts are created on first use; a rider account must exist.
// A key posted before returns ledger.ErrDuplicate (same entries) or
// ledger.ErrKeyConflict (others), and nothing is written.
func postAll(ctx context.Context, tx pgx.Tx, txs []ledger.Transaction, at time.Time, later *balanceMoves) error {
	if len(txs) == 0 {
		return nil
	}
	keys := make([]string, len(txs))
	kinds := make([]string, len(txs))
	memos := make([]string, len(txs))
	ats := make([]time.Time, len(txs))
	journeys := make([]*int64, len(txs))
	byKey := make(map[string]int, len(txs))
	for i, t := range txs {
		if err := t.Validate(); err != nil {
			return err
		}
		if j, ok := byKey[t.Key]; ok {
			if ledger.SameEntries(txs[j].Entries, t.Entries) {
				return fmt.Errorf("%w: %s", ledger.ErrDuplicate, t.Key)
			}
			return fmt.Errorf("%w: %s", ledger.ErrKeyConflict, t.Key)
		}
		byKey[t.Key] = i
		keys[i], kinds[i], memos[i], ats[i], journeys[i] = t.Key, t.Kind, t.Memo, at, id64(t.JourneyID)
	}
	rows, err := tx.Query(ctx, `INSERT INTO ledger_transactions (idempotency_key, kind, memo, created_at, journey_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[])
		ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key`, keys, kinds, memos, ats, journeys)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	ids := make(map[string]int64, len(txs))
	for rows.Next() {
		var id int64
		var key string
		if err := rows.Scan(&id, &key); err != nil {
			rows.Close()
			return err
		}
		ids[key] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("post: %w", err)
	}
	if len(ids) != len(txs) {
		for _, t := range txs {
			if _, ok := ids[t.Key]; !ok {
				return sameAsPosted(ctx, tx, t)
			}
		}
	}
	var entTx []int64
	var entAcct, entAmt []string
	deltas := make(map[ledger.AccountID]decimal.Decimal)
	var newAccts, newKinds []string
	for _, t := range txs {
		for _, e := range t.Entries {
			entTx = append(entTx, ids[t.Key])
			entAcct = append(entAcct, string(e.Account))
			entAmt = append(entAmt, e.Amount.String())
			if _, ok := deltas[e.Account]; !ok && e.Account.Kind() != ledger.KindRider {
				newAccts = append(newAccts, string(e.Account))
				newKinds = append(newKinds, string(e.Account.Kind()))
			}
			deltas[e.Account] = deltas[e.Account].Add(e.Amount)
		}
	}
	if len(newAccts) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO accounts (id, kind) SELECT * FROM unnest($1::text[], $2::text[])
			ON CONFLICT (id) DO NOTHING`, newAccts, newKinds); err != nil {
			return fmt.Errorf("post: accounts: %w", err)
		}
	}
	var riderDeltas, others map[ledger.AccountID]decimal.Decimal
	for a, d := range deltas {
		if a.Kind() == ledger.KindRider {
			if riderDeltas == nil {
				riderDeltas = make(map[ledger.AccountID]decimal.Decimal)
			}
			riderDeltas[a] = d
		} else {
			if others == nil {
				others = make(map[ledger.AccountID]decimal.Decimal)
			}
			others[a] = d
		}
	}
	if err := moveBalances(ctx, tx, riderDeltas); err != nil {
		return err
	}
	if later != nil {
		// Operator and provider balances are shared by every rider:
		// moved once per batch, in the batch's own shard.
		later.add(others)
	} else if err := moveShard(ctx, tx, others, sharedShard); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO ledger_entries (transaction_id, account_id, amount)
		SELECT t, a, m::numeric FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(t, a, m)`,
		entTx, entAcct, entAmt); err != nil {
		return fmt.Errorf("post: entries: %w", err)
	}
	return nil
}

// balanceMoves collects balance changes of shared accounts to apply at the
// end of a transaction.
type balanceMoves struct {
	d map[ledger.AccountID]decimal.Decimal
}

func (m *balanceMoves) add(d map[ledger.AccountID]decimal.Decimal) {
	if m.d == nil {
		m.d = make(map[ledger.AccountID]decimal.Decimal)
	}
	for a, v := range d {
		m.d[a] = m.d[a].Add(v)
	}
}

// sharedShard is the shard of writes outside batches (top-ups, refunds,
// sweeps); batches use their committer's number.
const sharedShard = -1

// moveShard adds each delta to the account's balance shard.
func moveShard(ctx context.Context, tx pgx.Tx, deltas map[ledger.AccountID]decimal.Decimal, shard int) error {
	if len(deltas) == 0 {
		return nil
	}
	accts := make([]string, 0, len(deltas))
	for a := range deltas {
		accts = append(accts, string(a))
	}
	sort.Strings(accts)
	amts := make([]string, len(accts))
	for i, a := range accts {
		amts[i] = deltas[ledger.AccountID(a)].String()
	}
	_, err := tx.Exec(ctx, `INSERT INTO account_shards (account_id, shard, balance)
		SELECT id, $3, delta::numeric FROM unnest($1::text[], $2::text[]) AS u(id, delta)
		ON CONFLICT (account_id, shard) DO UPDATE SET balance = account_shards.balance + EXCLUDED.balance`, accts, amts, shard)
	if err != nil {
		return fmt.Errorf("post: balances: %w", err)
	}
	return nil
}

// moveBalances adds each delta to its account's balance, in id order.
func moveBalances(ctx context.Context, tx pgx.Tx, deltas map[ledger.AccountID]decimal.Decimal) error {
	if len(deltas) == 0 {
		return nil
	}
	accts := make([]string, 0, len(deltas))
	for a := range deltas {
		accts = append(accts, string(a))
	}
	sort.Strings(accts)
	amts := make([]string, len(accts))
	for i, a := range accts {
		amts[i] = deltas[ledger.AccountID(a)].String()
	}
	tag, err := tx.Exec(ctx, `UPDATE accounts a SET balance = a.balance + u.delta::numeric
		FROM unnest($1::text[], $2::text[]) AS u(id, delta) WHERE a.id = u.id`, accts, amts)
	if err != nil {
		return fmt.Errorf("post: balances: %w", err)
	}
	if int(tag.RowsAffected()) != len(accts) {
		for _, a := range accts {
			var one int
			if err := tx.QueryRow(ctx, "SELECT 1 FROM accounts WHERE id = $1", a).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("post: %w: %s", ledger.ErrNoAccount, a)
			}
		}
		return fmt.Errorf("post: %d of %d accounts updated", tag.RowsAffected(), len(accts))
	}
	return nil
}
