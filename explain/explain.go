// Package explain answers a rider's two questions about fares from the
// rules that decided them, in Vietnamese and English: "what would this trip
// cost" (Quote: any pair of stations, a rider category, a time) and "why did
// I pay this" (Journey: a recorded journey, with the fare rule, the cap and
// the transfer it carries and the ledger transaction that charged it).
//
// It is a pure domain package like fare and admission: it reads the fare
// data and a journey as admission recorded it, and formats nothing but
// text. The HTTP API (services/farehttp) and the vnpass-fare CLI show its
// answers; the settlement store (services/settlepg) implements Journeys.
package explain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/money"
)

// Fares is what explaining asks of the fare data (*fare.Set, or one
// *fare.Table).
type Fares interface {
	Stop(id string) (fare.Stop, bool)
	Stops() []fare.Stop
	PriceFor(q fare.Query) (fare.Quote, error)
	Transfer(prev, next fare.Leg) (fare.TransferQuote, error)
	Cap(network, category string, spentToday, spentThisMonth, fare decimal.Decimal) fare.CapResult
}

// Journeys is where recorded journeys are read.
type Journeys interface {
	// Journey returns the journey with that id, or ErrNoJourney.
	Journey(ctx context.Context, id int64) (admission.Journey, error)
	// FarePostings returns the ledger transactions that moved the
	// journey's fare, oldest first: none when nothing was charged (open,
	// free for the rider's category, paid by a pass), the charge, and a
	// correction when a late exit repriced a journey charged the maximum
	// fare. ErrNoJourney if there is no such journey.
	FarePostings(ctx context.Context, id int64) ([]Posting, error)
}

// ErrNoJourney: no journey with that id.
var ErrNoJourney = errors.New("explain: no such journey")

// Ledger transaction kinds that move a journey's fare.
const (
	KindFare           = "fare"            // the rider pays the operator
	KindFareCorrection = "fare_correction" // the operator refunds part of it
	KindRefund         = "refund"          // an operator refunds by hand, with a reason
)

// Posting is a ledger transaction that moved money for a journey, as the
// rider sees it.
type Posting struct {
	TransactionID int64  `json:"transaction_id"`
	Kind          string `json:"kind"`            // KindFare, KindFareCorrection or KindRefund
	Key           string `json:"idempotency_key"` // "fare:<exit event id>", "fare:missing-exit:<entry event id>", "fare-correction:<exit event id>"
	// Amount is what the rider paid by it: positive for a charge, negative
	// for a refund.
	Amount    decimal.Decimal `json:"-"`
	AmountVND int64           `json:"amount_vnd"`
	PostedAt  string          `json:"posted_at"`        // RFC 3339, Asia/Ho_Chi_Minh
	Reason    string          `json:"reason,omitempty"` // refunds: the operator's reason and who gave it
}

// NewPosting is a Posting with its amount and time in the forms shown.
func NewPosting(id int64, kind, key string, amount decimal.Decimal, postedAt time.Time) Posting {
	return Posting{TransactionID: id, Kind: kind, Key: key, Amount: amount, AmountVND: vnd(amount), PostedAt: local(postedAt)}
}

// A QueryError names the part of a question that cannot be answered: Field
// is "from", "to" or "category".
type QueryError struct {
	Field string
	Err   error
}

func (e *QueryError) Error() string { return fmt.Sprintf("explain: %s: %v", e.Field, e.Err) }
func (e *QueryError) Unwrap() error { return e.Err }

// Station is a stop as a rider knows it.
type Station struct {
	StopID string `json:"stop_id"`
	Name   string `json:"name"`
}

func station(f Fares, id string) Station {
	s := Station{StopID: id, Name: id}
	if st, ok := f.Stop(id); ok && st.Name != "" {
		s.Name = st.Name
	}
	return s
}

// vnd is an amount in whole dong as the wire carries it.
func vnd(d decimal.Decimal) int64 { return money.Round(d).IntPart() }

// local is a time in Asia/Ho_Chi_Minh as RFC 3339; "" for no time.
func local(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(fare.Zone).Format(time.RFC3339)
}

// clockVI and clockEN write a local time the way each language reads it.
func clockVI(t time.Time) string { return t.In(fare.Zone).Format("15:04 02/01/2006") }
func clockEN(t time.Time) string { return t.In(fare.Zone).Format("15:04 on 2006-01-02") }
