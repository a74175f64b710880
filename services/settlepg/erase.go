package settlepg

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/ledger"
)

// ErrErasureBlocked: the account cannot be erased yet; Blocked says why.
var ErrErasureBlocked = errors.New("settlepg: erasure blocked")

// ErasureBlocked names what holds an erasure back: "balance" (money is
// owed either way: a balance to give back or a debt to collect), "funding"
// (a live bank or e-wallet link: unlink it first, which tells the
// provider), "journey" (an open journey), "parking" (a car or motorbike
// still parked), "dispute" (an open dispute).
type ErasureBlocked struct{ Reasons []string }

func (e *ErasureBlocked) Error() string {
	return "settlepg: erasure blocked: " + strings.Join(e.Reasons, ", ")
}
func (e *ErasureBlocked) Unwrap() error { return ErrErasureBlocked }

// Erasure is what an erasure did.
type Erasure struct {
	Tombstone string `json:"tombstone"` // the subject's replacement in every kept record
	Rows      int64  `json:"rows"`      // rows de-identified or deleted
}

// NewTombstone is a random replacement subject, "erased-" and 26 base32 letters.
func NewTombstone() string {
	var b [16]byte
	rand.Read(b[:])
	return "erased-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// erasure is one statement of an erasure; table is checked with to_regclass
// first, so that the stores whose schema is not in this database (tests of
// one store) are skipped. $1 is the subject, $2 the tombstone.
type erasure struct {
	table string
	sql   string
}

// erasures, in order: what is kept for accounting loses the subject, what
// is not needed is deleted or emptied. Every store's tables live in the
// same database (one PostgreSQL URL), so one transaction erases them all.
var erasures = []erasure{
	// Settlement: the account keeps its ledger (amounts, dates, kinds) under
	// the tombstone; the id change reaches account_shards, passes,
	// funding_links, collections, account_events by ON UPDATE CASCADE.
	{"ledger_entries", `UPDATE ledger_entries SET account_id = 'rider:' || $2 WHERE account_id = 'rider:' || $1`},
	// Keys of the rider's own transactions only ("topup:<subject>:<key>",
	// a key that itself names the subject, "collect:daily:<subject>:<day>").
	{"ledger_transactions", `UPDATE ledger_transactions SET idempotency_key = replace(idempotency_key, $1, $2)
		WHERE id IN (SELECT transaction_id FROM ledger_entries WHERE account_id = 'rider:' || $2) AND strpos(idempotency_key, $1) > 0`},
	{"accounts", `UPDATE accounts SET id = 'rider:' || $2, subject = $2, status = 'closed' WHERE subject = $1`},
	// Funding: the provider's token and the masked number are deleted;
	// the link's dates and consent version stay for the debits it carried.
	{"funding_links", `UPDATE funding_links SET token = '', masked = '', unlink_reason = coalesce(unlink_reason, 'erased'),
		idempotency_key = replace(idempotency_key, $1, $2) WHERE subject = $2`},
	{"collections", `UPDATE collections SET key = replace(key, $1, $2), provider_ref = NULL WHERE subject = $2`},
	{"taps", `UPDATE taps SET subject = $2 WHERE subject = $1`},
	{"journeys", `UPDATE journeys SET subject = $2 WHERE subject = $1`},
	{"audit_log", `UPDATE audit_log SET rider = $2 WHERE rider = $1`},
	// Disputes: amounts, outcome and dates stay; the rider's and the
	// operator's words go (the refund's ledger memo stays, as the ledger's).
	{"dispute_events", `UPDATE dispute_events e SET note = '',
		by_whom = CASE WHEN by_whom = 'rider:' || $1 THEN 'rider:' || $2 ELSE by_whom END
		FROM disputes d WHERE d.id = e.dispute_id AND d.subject = $1`},
	{"disputes", `UPDATE disputes SET subject = $2, reason = '', resolution = '' WHERE subject = $1`},
	// Parking: sessions and fees stay, plates go.
	{"parking_sessions", `UPDATE parking_sessions SET subject = $2, plate = '' WHERE subject = $1`},
	{"parking_taps", `UPDATE parking_taps SET subject = $2, plate = '' WHERE subject = $1`},
	{"parking_subscriptions", `UPDATE parking_subscriptions SET subject = $2, plate = '', key = replace(key, $1, $2) WHERE subject = $1`},
	{"parking_overrides", `UPDATE parking_overrides SET subject = $2, plate = '' WHERE subject = $1`},
	// Partners: consents are deleted; their history (consent_events) and
	// the partner API's audit keep their rows under the tombstone (their
	// append-only triggers allow exactly that, partnerpg migration 004);
	// tickets keep the tombstone.
	{"consents", `DELETE FROM consents WHERE subject = $1 AND $2::text <> ''`},
	{"consent_events", `UPDATE consent_events SET subject = $2 WHERE subject = $1`},
	{"partner_audit", `UPDATE partner_audit SET subject = $2, actor = replace(actor, $1, $2) WHERE subject = $1`},
	{"rail_tickets", `UPDATE rail_tickets SET subject = $2 WHERE subject = $1`},
	{"rail_taps", `UPDATE rail_taps SET subject = $2 WHERE subject = $1`},
}

// Erase de-identifies a rider on request (the rider's or an admin's): in
// one transaction, under the rider's lock, it refuses while money is owed
// either way, a funding source is linked, a journey or parking stay is open
// or a dispute is open (ErasureBlocked); otherwise it replaces the subject
// by tombstone everywhere the records are kept (ledger, journeys, taps,
// disputes, parking, the audit log), deletes funding tokens, plates,
// consents and free text, closes the account and appends entry (the
// erasure's own audit, its Rider set to the tombstone). The ledger still
// balances and every amount is unchanged.
//
// beforeCommit (nil: none) runs last inside the transaction, the rider
// still locked: the analytics' deletion, so that a failure there leaves
// the account as it was and the erasure can be asked again.
func (s *Store) Erase(ctx context.Context, subject, tombstone string, entry AuditEntry, beforeCommit func(context.Context) error) (Erasure, error) {
	if subject == "" || !strings.HasPrefix(tombstone, "erased-") || strings.Contains(subject, "%") || strings.Contains(subject, ":") {
		return Erasure{}, fmt.Errorf("settlepg: erase: bad subject or tombstone")
	}
	out := Erasure{Tombstone: tombstone}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var balance decimal.Decimal
		var inDebt bool
		err := tx.QueryRow(ctx, `SELECT a.balance + coalesce((SELECT sum(balance) FROM account_shards WHERE account_id = a.id), 0),
			a.debt_since IS NOT NULL FROM accounts a WHERE a.subject = $1 FOR UPDATE`, subject).Scan(&balance, &inDebt)
		if errors.Is(err, pgx.ErrNoRows) {
			return ledger.ErrNoAccount
		}
		if err != nil {
			return err
		}
		var blocked []string
		if !balance.IsZero() || inDebt {
			blocked = append(blocked, "balance")
		}
		for _, c := range []struct{ why, table, sql string }{
			{"funding", "funding_links", `SELECT EXISTS (SELECT 1 FROM funding_links WHERE subject = $1 AND unlinked_at IS NULL)`},
			{"balance", "collections", `SELECT EXISTS (SELECT 1 FROM collections WHERE subject = $1 AND status = 'pending')`},
			{"journey", "journeys", `SELECT EXISTS (SELECT 1 FROM journeys WHERE subject = $1 AND status = 'open')`},
			{"parking", "parking_sessions", `SELECT EXISTS (SELECT 1 FROM parking_sessions WHERE subject = $1 AND status = 'open')`},
			{"dispute", "disputes", `SELECT EXISTS (SELECT 1 FROM disputes WHERE subject = $1 AND status = 'open')`},
		} {
			ok, err := hasTable(ctx, tx, c.table)
			if err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			var yes bool
			if err := tx.QueryRow(ctx, c.sql, subject).Scan(&yes); err != nil {
				return fmt.Errorf("%s: %w", c.table, err)
			}
			if yes && !contains(blocked, c.why) {
				blocked = append(blocked, c.why)
			}
		}
		if len(blocked) > 0 {
			return &ErasureBlocked{Reasons: blocked}
		}
		// The append-only tables let this transaction, and only the change
		// to this tombstone, through (018_erasure.sql).
		if _, err := tx.Exec(ctx, `SELECT set_config('vnpass.erasure', $1, true)`, tombstone); err != nil {
			return err
		}
		for _, e := range erasures {
			ok, err := hasTable(ctx, tx, e.table)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			tag, err := tx.Exec(ctx, e.sql, subject, tombstone)
			if err != nil {
				return fmt.Errorf("%s: %w", e.table, err)
			}
			out.Rows += tag.RowsAffected()
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('vnpass.erasure', '', true)`); err != nil {
			return err
		}
		entry.Rider = tombstone
		if entry.At.IsZero() {
			entry.At = s.now()
		}
		if _, err = tx.Exec(ctx, `INSERT INTO audit_log (at, actor, role, operator_id, city, action, resource, rider, reason, request_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			entry.At, entry.Actor, entry.Role, entry.Operator, entry.City, entry.Action, entry.Resource, entry.Rider, entry.Reason, entry.RequestID); err != nil {
			return err
		}
		if beforeCommit != nil {
			return beforeCommit(ctx)
		}
		return nil
	})
	var blocked *ErasureBlocked
	if errors.Is(err, ledger.ErrNoAccount) || errors.As(err, &blocked) {
		return Erasure{}, err
	}
	if err != nil {
		return Erasure{}, fmt.Errorf("settlepg: erase: %w", err)
	}
	return out, nil
}

func hasTable(ctx context.Context, tx pgx.Tx, name string) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok)
	return ok, err
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
