// Package payment owns the seam between vnpass and the banks and e-wallets
// that fund post-paid riders: linking a rider's funding source, debiting it,
// and reading the provider's daily settlement report. It is pure Go (the
// standard library, decimal and money); adapters implement Provider
// (services/payhttp over HTTP, services/paysim in process for the simulated
// provider).
//
// The rules every Provider keeps, and every caller relies on:
//
//   - Idempotency. Link and Debit carry a Key. The same Key always returns the
//     first outcome, approved or declined, and never moves money twice, even
//     when the calls race. A declined debit is final for its key: to try
//     again after the rider has funded the account, use a new key. The same
//     Key with a different Token or Amount (or, for Link, a different
//     subject, method, account or consent version) is ErrKeyConflict: a bug
//     in the caller.
//   - Unknown outcomes. A timeout or lost connection is ErrUnknownOutcome:
//     the debit may or may not have happened. The only safe next step is the
//     same request with the SAME key, later; a new key could take the money
//     twice. Retrying with the same key is safe after any error.
//   - Declines are results, not errors: Debit returns a Result with Status
//     Declined and a DeclineCode (insufficient_funds, account_closed,
//     account_unlinked). Errors are for requests that got no outcome.
//   - ErrInvalid is a request the provider will never accept as sent (an
//     unknown token, a non-positive or fractional amount, a malformed key);
//     its message says what is wrong. Retrying it unchanged is pointless.
//   - Money is whole dong (decimal.Decimal with no fraction); the wire carries
//     integers.
//   - Settlements reports the approved debits settled on one local day
//     (Asia/Ho_Chi_Minh, UTC+7, as fare.Zone): reconciliation compares it
//     with the ledger. A debit is reported on the day it was approved.
//   - Privacy. A link names the rider by the pseudonymous VNeID subject,
//     never a CCCD or CMND number; the platform stores the opaque Token and
//     shows only the masked account.
package payment

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/money"
)

// Method is the kind of funding source.
type Method string

const (
	// Bank is a linked bank account, debited through the interbank network (NAPAS).
	Bank Method = "bank"
	// EWallet is an e-wallet (MoMo, ZaloPay-like), identified by its phone number.
	EWallet Method = "ewallet"
)

// Valid reports whether m is a known method.
func (m Method) Valid() bool { return m == Bank || m == EWallet }

// LinkRequest asks the provider to link a funding source to a rider, with
// the rider's consent.
type LinkRequest struct {
	Key            string // idempotency key
	Subject        string // pseudonymous VNeID subject, never a national id number
	Method         Method
	Account        string // account or wallet number as the rider typed it; the provider normalises it
	ConsentVersion string // the version of the terms the rider accepted
}

// Link is a linked funding source.
type Link struct {
	Token    string // opaque; what the platform stores and debits
	Masked   string // for display, e.g. "•••• 6789"
	Method   Method
	Provider string // Provider.Name()
}

// DebitRequest asks the provider to take Amount from a linked source.
type DebitRequest struct {
	// Key is the idempotency key: the same key always returns the first
	// outcome and never moves money twice.
	Key    string
	Token  string
	Amount decimal.Decimal // whole dong, > 0
	Memo   string          // shown on the rider's statement; optional
}

// Status of a debit.
type Status string

const (
	Approved Status = "approved"
	Declined Status = "declined"
)

// Decline codes a Result may carry. A provider may add others; callers treat
// an unknown code as a decline like any other.
const (
	DeclineInsufficientFunds = "insufficient_funds"
	DeclineAccountClosed     = "account_closed"
	DeclineAccountUnlinked   = "account_unlinked"
)

// Result is the outcome of a debit.
type Result struct {
	Status      Status
	Ref         string          // the provider's reference, for support and reconciliation
	DeclineCode string          // set when Status is Declined
	Amount      decimal.Decimal // the amount requested; moved only when Approved
	At          time.Time       // when the provider decided
}

// Settlement is one approved debit in the provider's daily settlement report.
type Settlement struct {
	Key, Ref string
	Amount   decimal.Decimal
	At       time.Time // when the debit was approved
}

// Provider is a bank or e-wallet as settlement code sees it. Implementations
// are safe for concurrent use and keep the rules in the package doc.
type Provider interface {
	// Name is the provider's name in the ledger (ledger.ProviderSettlement).
	Name() string
	// Link links a funding source to a rider. The same Key returns the same Link.
	Link(ctx context.Context, req LinkRequest) (Link, error)
	// Unlink ends a link: later debits on the token are declined with
	// account_unlinked. Unlinking twice is not an error; an unknown token is ErrInvalid.
	Unlink(ctx context.Context, token string) error
	// Debit takes money from a linked source, once per Key.
	Debit(ctx context.Context, req DebitRequest) (Result, error)
	// Settlements is the provider's report of approved debits settled on the
	// local (UTC+7, fare.Zone) day containing day, oldest first.
	Settlements(ctx context.Context, day time.Time) ([]Settlement, error)
}

// Errors of providers. Adapters wrap them with context; test with errors.Is.
var (
	// ErrUnknownOutcome: timeout or connection lost; the request may or may
	// not have taken effect. Retry with the SAME key.
	ErrUnknownOutcome = errors.New("payment: outcome unknown, retry with the same key")
	// ErrInvalid: a request the provider will not accept as sent; the wrapped
	// message says why.
	ErrInvalid = errors.New("payment: invalid request")
	// ErrKeyConflict: the key was already used for a different request.
	ErrKeyConflict = errors.New("payment: idempotency key already used for a different request")
)

// Limits of requests, the same for every provider.
const (
	MaxKeyLen     = 100
	MaxTokenLen   = 200
	MaxSubjectLen = 64
	MaxAccountLen = 64
	MaxConsentLen = 64
	MaxMemoLen    = 140 // runes
)

// MaxAmount bounds one debit (whole dong): far above any day's fares, small
// enough that an amount typed in cents or by mistake is refused.
var MaxAmount = decimal.NewFromInt(1_000_000_000)

var (
	keyRE     = regexp.MustCompile(`^[\x21-\x7e]+$`) // printable ASCII, no spaces
	subjectRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	digitsRE  = regexp.MustCompile(`^[0-9]+$`)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ValidKey checks an idempotency key: 1-100 printable ASCII characters, no spaces.
func ValidKey(key string) error {
	if key == "" || len(key) > MaxKeyLen || !keyRE.MatchString(key) {
		return invalid("key must be 1-%d printable ASCII characters without spaces", MaxKeyLen)
	}
	return nil
}

// ValidToken checks the shape of a token (not whether the provider knows it).
func ValidToken(token string) error {
	if token == "" || len(token) > MaxTokenLen || !keyRE.MatchString(token) {
		return invalid("token must be 1-%d printable ASCII characters without spaces", MaxTokenLen)
	}
	return nil
}

// ValidAmount checks a debit amount: a whole number of dong, from 1 to MaxAmount.
func ValidAmount(amount decimal.Decimal) error {
	if !amount.IsInteger() {
		return invalid("amount %s is not a whole number of dong", amount)
	}
	if !amount.IsPositive() || amount.GreaterThan(MaxAmount) {
		return invalid("amount %s must be from 1 ₫ to %s", money.Format(amount), money.Format(MaxAmount))
	}
	return nil
}

// Validate checks a link request before it is sent. The provider checks the
// account number itself.
func (r LinkRequest) Validate() error {
	if err := ValidKey(r.Key); err != nil {
		return err
	}
	if err := ValidSubject(r.Subject); err != nil {
		return err
	}
	if !r.Method.Valid() {
		return invalid("method %q must be %q or %q", r.Method, Bank, EWallet)
	}
	if strings.TrimSpace(r.Account) == "" || len(r.Account) > MaxAccountLen {
		return invalid("account must be 1-%d characters", MaxAccountLen)
	}
	return ValidConsentVersion(r.ConsentVersion)
}

// ValidConsentVersion checks the version of the terms a rider accepted:
// 1-64 printable ASCII characters without spaces, e.g. "2026-01".
func ValidConsentVersion(v string) error {
	if v == "" || len(v) > MaxConsentLen || !keyRE.MatchString(v) {
		return invalid("consent version must be 1-%d printable ASCII characters without spaces", MaxConsentLen)
	}
	return nil
}

// ValidSubject checks a rider's subject: 1-64 of A-Z a-z 0-9 _ -, and not a
// bare 9- or 12-digit number, which is what a CMND or CCCD number looks like.
func ValidSubject(s string) error {
	if s == "" || len(s) > MaxSubjectLen || !subjectRE.MatchString(s) {
		return invalid("subject must be 1-%d characters of A-Z, a-z, 0-9, '_' or '-'", MaxSubjectLen)
	}
	if digitsRE.MatchString(s) && (len(s) == 9 || len(s) == 12) {
		return invalid("subject looks like a CMND/CCCD number; send the pseudonymous VNeID subject")
	}
	return nil
}

// Validate checks a debit request before it is sent.
func (r DebitRequest) Validate() error {
	if err := ValidKey(r.Key); err != nil {
		return err
	}
	if err := ValidToken(r.Token); err != nil {
		return err
	}
	if err := ValidAmount(r.Amount); err != nil {
		return err
	}
	return ValidMemo(r.Memo)
}

// ValidMemo checks a memo: valid UTF-8, at most MaxMemoLen characters, no control characters.
func ValidMemo(m string) error {
	if !utf8.ValidString(m) || utf8.RuneCountInString(m) > MaxMemoLen {
		return invalid("memo must be valid UTF-8 of at most %d characters", MaxMemoLen)
	}
	for _, r := range m {
		if r < 0x20 || r == 0x7f {
			return invalid("memo must not contain control characters")
		}
	}
	return nil
}
