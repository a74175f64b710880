// Package dispute holds a rider's challenge of a charge and how it is
// settled: a rider contests a charge (a journey, later a parking session)
// with a reason; it waits in the operators' queue; an operator refunds it
// through the ledger or rejects it with a reason; the rider sees the
// outcome. Every change of state is an Event naming who made it and when.
//
// It is a pure domain package: the store (services/disputepg) and the HTTP
// API (services/riderhttp) adapt it.
package dispute

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Kind of charge contested.
type Kind string

const (
	KindJourney Kind = "journey"
	KindParking Kind = "parking_session"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindJourney || k == KindParking }

// Status of a dispute.
type Status string

const (
	StatusOpen     Status = "open"     // waiting in the operators' queue
	StatusRefunded Status = "refunded" // upheld: money given back through the ledger
	StatusRejected Status = "rejected" // not upheld, with the operator's reason
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return s == StatusOpen || s == StatusRefunded || s == StatusRejected }

// Errors.
var (
	ErrNotFound      = errors.New("dispute: not found")
	ErrInvalid       = errors.New("dispute: invalid")
	ErrResolved      = errors.New("dispute: already resolved")
	ErrAlreadyOpen   = errors.New("dispute: this charge is already disputed")
	ErrNotDisputable = errors.New("dispute: nothing was charged")
)

// Dispute is one rider's challenge of one charge.
type Dispute struct {
	ID       int64
	Subject  string // the rider's pseudonymous VNeID subject
	Kind     Kind
	ChargeID int64 // the journey or parking session
	// Charged is what the rider paid for the charge when they disputed it.
	Charged decimal.Decimal
	Reason  string // the rider's words
	Status  Status
	// Resolution: the operator's reason, who resolved and when, and for a
	// refund its amount and ledger transaction.
	Resolution string
	ResolvedBy string
	ResolvedAt time.Time
	Refund     decimal.Decimal
	RefundTxID int64
	CreatedAt  time.Time
	Events     []Event
}

// Event is one change of a dispute's state.
type Event struct {
	At     time.Time
	By     string // "rider:<subject>", "operator:<name>", "admin:<name>"
	Status Status
	Note   string
}

// Reason bounds, in characters.
const (
	MinReason = 3
	MaxReason = 500
)

func checkReason(what, r string) (string, error) {
	r = strings.TrimSpace(r)
	if n := len([]rune(r)); n < MinReason || n > MaxReason {
		return "", fmt.Errorf("%w: %s must be %d to %d characters", ErrInvalid, what, MinReason, MaxReason)
	}
	return r, nil
}

// New is a rider's new dispute of a charge they paid.
func New(subject string, kind Kind, chargeID int64, charged decimal.Decimal, reason string, at time.Time) (Dispute, error) {
	if subject == "" || !kind.Valid() || chargeID <= 0 {
		return Dispute{}, fmt.Errorf("%w: subject, kind and charge are required", ErrInvalid)
	}
	if !charged.IsPositive() {
		return Dispute{}, ErrNotDisputable
	}
	r, err := checkReason("reason", reason)
	if err != nil {
		return Dispute{}, err
	}
	return Dispute{Subject: subject, Kind: kind, ChargeID: chargeID, Charged: charged, Reason: r, Status: StatusOpen,
		CreatedAt: at, Events: []Event{{At: at, By: "rider:" + subject, Status: StatusOpen, Note: r}}}, nil
}

// Refunded settles an open dispute with a refund posted as ledger
// transaction txID.
func (d *Dispute) Refunded(amount decimal.Decimal, txID int64, note, by string, at time.Time) error {
	if d.Status != StatusOpen {
		return ErrResolved
	}
	if !amount.IsPositive() || amount.GreaterThan(d.Charged) || txID <= 0 {
		return fmt.Errorf("%w: a refund is more than nothing and at most what was charged", ErrInvalid)
	}
	n, err := checkReason("note", note)
	if err != nil {
		return err
	}
	d.Status, d.Refund, d.RefundTxID, d.Resolution, d.ResolvedBy, d.ResolvedAt = StatusRefunded, amount, txID, n, by, at
	d.Events = append(d.Events, Event{At: at, By: by, Status: StatusRefunded, Note: n})
	return nil
}

// Rejected settles an open dispute without a refund, with the reason the
// rider will read.
func (d *Dispute) Rejected(reason, by string, at time.Time) error {
	if d.Status != StatusOpen {
		return ErrResolved
	}
	r, err := checkReason("reason", reason)
	if err != nil {
		return err
	}
	d.Status, d.Resolution, d.ResolvedBy, d.ResolvedAt = StatusRejected, r, by, at
	d.Events = append(d.Events, Event{At: at, By: by, Status: StatusRejected, Note: r})
	return nil
}
