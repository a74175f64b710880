// Package ledger owns how money moves in vnpass: accounts and balanced
// transactions in whole dong. Every movement is a Transaction whose entries
// sum to zero; entries are never changed, corrections are new transactions;
// every transaction carries an idempotency key, so a retried write (a
// redelivered tap, a repeated top-up request) moves money once.
//
// Sign convention: an entry's amount is added to its account's balance. A
// fare is rider -F, operator revenue +F; a top-up is provider settlement -X,
// rider +X. The sum of every account's balance is therefore always zero.
//
// Stores live in adapters (services/settlepg); this package is pure.
package ledger

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// AccountID names a ledger account, e.g. "rider:vn_abc", "operator:hn-metro:revenue".
type AccountID string

// Kind of account.
type Kind string

const (
	KindRider    Kind = "rider"
	KindOperator Kind = "operator"
	KindProvider Kind = "provider"
)

// Rider is the account of a rider, keyed by the pseudonymous VNeID subject.
func Rider(subject string) AccountID { return AccountID("rider:" + subject) }

// OperatorRevenue is the account an operator's fare revenue is credited to.
func OperatorRevenue(operator string) AccountID {
	return AccountID("operator:" + operator + ":revenue")
}

// ProviderSettlement is the account a payment provider's top-ups come from.
func ProviderSettlement(provider string) AccountID {
	return AccountID("provider:" + provider + ":settlement")
}

// Kind reports the kind of account from its id.
func (a AccountID) Kind() Kind {
	k, _, _ := strings.Cut(string(a), ":")
	return Kind(k)
}

// Entry moves Amount into (positive) or out of (negative) an account.
type Entry struct {
	Account AccountID
	Amount  decimal.Decimal
}

// Transaction is one balanced movement of money.
type Transaction struct {
	Key     string // idempotency key, unique across the ledger
	Kind    string // "fare", "topup", "refund", ...
	Memo    string
	Entries []Entry
	// JourneyID is the journey the movement belongs to (fares, corrections,
	// refunds); 0 for none (top-ups, passes).
	JourneyID int64
}

var (
	ErrUnbalanced = errors.New("ledger: entries do not sum to zero")
	ErrInvalid    = errors.New("ledger: invalid transaction")
)

// New builds a transaction and checks it: a key and kind, at least two
// entries, each a non-zero whole-dong amount on a distinct account, summing
// to zero.
func New(key, kind, memo string, entries ...Entry) (Transaction, error) {
	t := Transaction{Key: key, Kind: kind, Memo: memo, Entries: entries}
	return t, t.Validate()
}

// Validate checks the transaction's invariants.
func (t Transaction) Validate() error {
	if t.Key == "" || len(t.Key) > 200 {
		return fmt.Errorf("%w: idempotency key must be 1-200 bytes", ErrInvalid)
	}
	if t.Kind == "" {
		return fmt.Errorf("%w: kind missing", ErrInvalid)
	}
	if len(t.Entries) < 2 {
		return fmt.Errorf("%w: %s: want at least two entries", ErrInvalid, t.Key)
	}
	sum := decimal.Zero
	seen := make(map[AccountID]bool, len(t.Entries))
	for _, e := range t.Entries {
		switch e.Account.Kind() {
		case KindRider, KindOperator, KindProvider:
		default:
			return fmt.Errorf("%w: %s: unknown account %q", ErrInvalid, t.Key, e.Account)
		}
		if seen[e.Account] {
			return fmt.Errorf("%w: %s: account %s twice", ErrInvalid, t.Key, e.Account)
		}
		seen[e.Account] = true
		if e.Amount.IsZero() {
			return fmt.Errorf("%w: %s: zero amount on %s", ErrInvalid, t.Key, e.Account)
		}
		if !e.Amount.IsInteger() {
			return fmt.Errorf("%w: %s: %s is not whole dong", ErrInvalid, t.Key, e.Amount)
		}
		sum = sum.Add(e.Amount)
	}
	if !sum.IsZero() {
		return fmt.Errorf("%w: %s sums to %s", ErrUnbalanced, t.Key, sum)
	}
	return nil
}

// Transfer is the common two-entry transaction: amount moves from one
// account to another.
func Transfer(key, kind, memo string, from, to AccountID, amount decimal.Decimal) (Transaction, error) {
	if !amount.IsPositive() {
		return Transaction{}, fmt.Errorf("%w: %s: transfer amount %s must be positive", ErrInvalid, key, amount)
	}
	return New(key, kind, memo, Entry{from, amount.Neg()}, Entry{to, amount})
}

// Account is an account's current state.
type Account struct {
	ID      AccountID
	Subject string // riders: the pseudonymous VNeID subject
	Status  string // active, suspended, closed
	Balance decimal.Decimal
}

// ErrNoAccount: no account with that id.
var ErrNoAccount = errors.New("ledger: no such account")

// ErrDuplicate: the same transaction (same key, same entries) was already
// posted; nothing moved again.
var ErrDuplicate = errors.New("ledger: transaction already posted")

// ErrKeyConflict: the idempotency key was used for a different transaction.
var ErrKeyConflict = errors.New("ledger: idempotency key already used for a different transaction")

// SameEntries reports whether two transactions move the same amounts on the
// same accounts, whatever the order of their entries.
func SameEntries(a, b []Entry) bool {
	if len(a) != len(b) {
		return false
	}
	m := make(map[AccountID]decimal.Decimal, len(a))
	for _, e := range a {
		m[e.Account] = e.Amount
	}
	for _, e := range b {
		if v, ok := m[e.Account]; !ok || !v.Equal(e.Amount) {
			return false
		}
	}
	return true
}

// ErrInsufficientFunds: the balance does not cover a purchase.
var ErrInsufficientFunds = errors.New("ledger: balance does not cover the purchase")

// ErrRefundTooLarge: a refund above what the rider paid.
var ErrRefundTooLarge = errors.New("ledger: refund exceeds what was paid")
