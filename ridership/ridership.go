// Package ridership owns what leaves the settlement database for analytics:
// taps and journeys keyed by a pseudonymous rider key, never by the VNeID
// subject, and the exporter that moves them from the settlement outbox to
// the analytics store exactly once in effect (at least once, with the sink
// deduplicating by id).
package ridership

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/shopspring/decimal"
)

// Tap is one decided tap as analytics sees it.
type Tap struct {
	EventID    string
	Device     string
	Site       string
	Kind       string
	RiderKey   string // pseudonym; "" when the assertion did not verify
	CapturedAt time.Time
	ReceivedAt time.Time
	Open       bool
	Reason     string
	Fare       decimal.Decimal // zero when the tap charged nothing
	// Outbox is the source's position of the row (opaque, not exported):
	// the exporter hands the last one of a batch back to mark it written.
	Outbox string
}

// Journey is one finished journey as analytics sees it.
type Journey struct {
	ID         int64
	RiderKey   string
	NetworkID  string
	OperatorID string
	EntrySite  string // "" when the entry tap is missing
	ExitSite   string // "" when the exit tap is missing
	EntryAt    time.Time
	ExitAt     time.Time
	Status     string
	Category   string
	FareRule   string
	Fare       decimal.Decimal
	Outbox     string // as Tap.Outbox
	// Version grows each time the journey is closed again (a late exit or
	// entry corrects it) and exported again: analytics keep the latest.
	Version uint64
}

// Pseudonymizer turns VNeID subjects into rider keys with a keyed hash: the
// same rider always has the same key in analytics, and without the key
// nobody can go from a rider key back to a subject, or test a guess.
type Pseudonymizer struct{ key []byte }

// NewPseudonymizer needs a secret of at least 32 bytes.
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) < 32 {
		return nil, errors.New("ridership: pseudonym key must be at least 32 bytes")
	}
	return &Pseudonymizer{key: append([]byte(nil), key...)}, nil
}

// Key returns the rider key of subject ("" for "").
func (p *Pseudonymizer) Key(subject string) string {
	if subject == "" {
		return ""
	}
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(subject))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Source is the settlement outbox: taps and finished journeys not yet
// exported, oldest first, with subjects already replaced by pseudonym(subject).
type Source interface {
	PendingTaps(ctx context.Context, limit int, pseudonym func(string) string) ([]Tap, error)
	// MarkTapsExported records that the sink holds every tap up to and
	// including the one at position upTo (a Tap.Outbox of the last batch).
	MarkTapsExported(ctx context.Context, upTo string) error
	PendingJourneys(ctx context.Context, limit int, pseudonym func(string) string) ([]Journey, error)
	MarkJourneysExported(ctx context.Context, upTo string) error
}

// Sink is the analytics store. Writing the same tap or journey twice must
// leave one row (the sink deduplicates by event id / journey id), because a
// crash between a write and its mark replays the batch.
type Sink interface {
	WriteTaps(ctx context.Context, taps []Tap) error
	WriteJourneys(ctx context.Context, js []Journey) error
}
