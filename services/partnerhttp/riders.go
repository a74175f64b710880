package partnerhttp

import (
	"context"
	"errors"
	"time"

	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/services/settlepg"
)

// RiderData is what a partner may read of a rider with consent: the
// journeys and charges since the consent was granted, never before.
type RiderData interface {
	Journeys(ctx context.Context, subject string, since time.Time) ([]Journey, error)
	Charges(ctx context.Context, subject string, since time.Time) ([]Charge, error)
}

// Journey is a completed journey as a partner sees it.
type Journey struct {
	JourneyID    int64  `json:"journey_id"`
	Network      string `json:"network"`
	EntryStation string `json:"entry_station,omitempty"`
	EntryAt      string `json:"entry_at,omitempty"`
	ExitStation  string `json:"exit_station,omitempty"`
	ExitAt       string `json:"exit_at,omitempty"`
	Status       string `json:"status"`
	FareVND      int64  `json:"fare_vnd"`
	FareText     string `json:"fare_text"`
}

// Charge is a movement on the rider's account for travel: a fare, a fare
// correction, a refund, a pass. Negative: taken from the rider.
type Charge struct {
	At        string `json:"at"`
	Kind      string `json:"kind"`
	AmountVND int64  `json:"amount_vnd"`
	JourneyID int64  `json:"journey_id,omitempty"`
}

// chargeKinds are the ledger movements a partner may see: travel, not
// top-ups or bank collections.
var chargeKinds = map[string]bool{"fare": true, "fare_correction": true, "refund": true, "pass": true}

// historyLimit bounds what one call reads.
const historyLimit = 500

// SettleRiders reads riders' journeys and charges from settlement.
type SettleRiders struct{ Store *settlepg.Store }

// Charges lists the rider's travel charges since since, newest first.
func (s SettleRiders) Charges(ctx context.Context, subject string, since time.Time) ([]Charge, error) {
	ps, err := s.Store.History(ctx, subject, historyLimit)
	if err != nil {
		return nil, err
	}
	var out []Charge
	for _, p := range ps {
		if p.At.Before(since) || !chargeKinds[p.Kind] {
			continue
		}
		out = append(out, Charge{At: p.At.UTC().Format(time.RFC3339), Kind: p.Kind, AmountVND: money.Round(p.Amount).IntPart(), JourneyID: p.JourneyID})
	}
	return out, nil
}

// Journeys lists the rider's journeys priced since since, newest first.
func (s SettleRiders) Journeys(ctx context.Context, subject string, since time.Time) ([]Journey, error) {
	ps, err := s.Store.History(ctx, subject, historyLimit)
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	var out []Journey
	for _, p := range ps {
		if p.JourneyID == 0 || seen[p.JourneyID] || p.At.Before(since) {
			continue
		}
		seen[p.JourneyID] = true
		j, err := s.Store.Journey(ctx, p.JourneyID)
		if errors.Is(err, settlepg.ErrNoJourney) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if j.Subject != subject || j.EntryAt.Before(since) && !j.EntryAt.IsZero() {
			continue
		}
		out = append(out, journeyJSON(j))
	}
	return out, nil
}

func journeyJSON(j admission.Journey) Journey {
	out := Journey{JourneyID: j.ID, Network: j.NetworkID, EntryStation: j.EntrySite, ExitStation: j.ExitSite, Status: string(j.Status),
		FareVND: money.Round(j.Fare).IntPart(), FareText: money.Format(j.Fare)}
	if !j.EntryAt.IsZero() {
		out.EntryAt = j.EntryAt.UTC().Format(time.RFC3339)
	}
	if !j.ExitAt.IsZero() {
		out.ExitAt = j.ExitAt.UTC().Format(time.RFC3339)
	}
	return out
}

func isNotFound(err error) bool { return errors.Is(err, partner.ErrNotFound) }
