// Package admission decides whether a gate opens for a tap and what the tap
// costs, and has it settled exactly once. It is the application core of the
// fare service: it verifies the VNeID assertion, pairs entry and exit taps
// into journeys, prices them with the fare table and hands one balanced
// ledger transaction per charge to a Store that records the tap, the journey
// and the money in one database transaction keyed by the tap's event id.
//
// It depends on the domain packages and on interfaces only; PostgreSQL,
// MQTT and ClickHouse live in adapters under services/.
package admission

import (
	"context"
	"errors"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/proto"
)

// Record is what is stored for every tap that decoded, whatever the decision.
type Record struct {
	Tap        proto.Tap
	ReceivedAt time.Time
	Subject    string // pseudonymous VNeID subject; empty if the assertion did not verify
	JTI        string // assertion id, claimed once; empty if the assertion did not verify
	ExpiresAt  time.Time
	// Offline is the device's own decision when it decided the tap without
	// the cloud (rec.Tap.Offline); the store records it with the tap.
	Offline *proto.OfflineDecision
}

// Rider is the state of a rider that a decision may depend on, read and
// locked by the Store inside the transaction that records the tap.
type Rider struct {
	Subject  string
	Replayed bool // the assertion's jti was already claimed by another tap
	Exists   bool // a vnpass account is linked to this VNeID subject
	Status   AccountStatus
	Balance  decimal.Decimal
	// Funding says how the rider pays: from a prepaid balance, or
	// post-paid (fares collected after travel from a linked account).
	Funding Funding
	// DebtSince is when a post-paid collection was declined and not yet
	// recovered; zero when the rider owes nothing overdue.
	DebtSince time.Time
	Open      *Journey // the rider's open journey, if any
	Last      *Journey // the rider's latest finished journey
	// Passes the rider holds that were valid in the last days.
	Passes []HeldPass
	// Spent sums what the rider was charged for complete journeys on a
	// network entered in [from, to), read in the same transaction.
	Spent func(network string, from, to time.Time) (decimal.Decimal, error)
	// JourneyAt returns the rider's finished journey with the latest entry
	// at or before at, or nil; read in the same transaction, only for an
	// exit captured before the rider's current journey (one an offline gate
	// held and forwarded after the rider travelled on). Nil: no lookup.
	JourneyAt func(at time.Time) (*Journey, error)
}

// HeldPass is a pass a rider bought: fare.Pass with its id.
type HeldPass struct {
	ID int64
	fare.Pass
}

// AccountStatus of a rider's account.
type AccountStatus string

const (
	AccountActive    AccountStatus = "active"
	AccountSuspended AccountStatus = "suspended"
	AccountClosed    AccountStatus = "closed"
)

// Funding is how a rider's account is paid for.
type Funding string

const (
	FundingPrepaid  Funding = "prepaid"
	FundingPostpaid Funding = "postpaid"
)

// Journey is a trip from an entry tap to an exit tap.
type Journey struct {
	ID         int64
	Subject    string
	NetworkID  string
	OperatorID string
	EntryEvent string
	EntrySite  string
	EntryAt    time.Time
	ExitEvent  string
	ExitSite   string
	ExitAt     time.Time
	Fare       decimal.Decimal // what was charged
	FullFare   decimal.Decimal // the fare before caps
	FareRule   string          // which rule priced it, e.g. "fare_leg_rules.txt:17"
	Cap        string          // the cap that lowered the fare ("day", "month") or ""
	CapRule    string          // the fare_products.txt row of that cap's price
	Category   string          // rider category the fare was computed for
	// TransferRule is the fare_transfer_rules.txt row that joined this
	// journey to the rider's previous one (TransferFrom) and priced the two
	// as one; "" when the journey stands alone.
	TransferRule string
	TransferFrom int64
	PassID       int64 // the pass that paid for the journey, if one did
	Status       JourneyStatus
}

// JourneyStatus says how far a journey got.
type JourneyStatus string

const (
	JourneyOpen   JourneyStatus = "open"
	JourneyClosed JourneyStatus = "closed" // priced from entry and exit
	// JourneyIncomplete: priced at the maximum fare because a tap was missing.
	JourneyIncomplete JourneyStatus = "incomplete"
)

// Effect is what deciding one tap changes. The Store applies all of it, with
// the tap record, in one transaction.
type Effect struct {
	Decision proto.Decision
	Open     *Journey             // a journey to open (ID assigned by the store)
	Close    []*Journey           // journeys to close, with exit and fare filled in
	Charges  []ledger.Transaction // balanced ledger transactions to post
	Journey  *Journey             // the journey this tap belongs to, for the record
}

// Store records taps and applies their effects exactly once.
type Store interface {
	// Admit records one tap. If rec.Tap.EventID was recorded before, it
	// returns the decision payload stored then, with dup true, and changes
	// nothing. Otherwise, in one transaction, it claims rec.JTI (setting
	// Rider.Replayed if another tap holds it), locks and reads the rider's
	// account and open journey, calls decide, applies the Effect, stores
	// the tap with the encoded decision and commits.
	Admit(ctx context.Context, rec Record, decide func(*Rider) (Effect, error)) (payload []byte, dup bool, err error)
	// StaleJourneys lists riders with a journey open since before cutoff.
	StaleJourneys(ctx context.Context, cutoff time.Time, limit int) ([]string, error)
	// Settle locks and reads one rider, calls decide and applies the Effect
	// (without a tap), in one transaction.
	Settle(ctx context.Context, subject string, decide func(*Rider) (Effect, error)) error
}

// ErrNotForUs: the tap is of a kind this service does not decide.
var ErrNotForUs = errors.New("admission: tap kind not handled")
