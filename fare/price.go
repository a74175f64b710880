package fare

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"
)

var (
	// ErrUnknownStop: the stop_id is not in stops.txt.
	ErrUnknownStop = errors.New("fare: unknown stop")
	// ErrNoFareRule: both stops exist but no fare leg rule prices the journey
	// (a stop outside every fare network, stops in different networks, or a
	// gap in the origin-destination matrix).
	ErrNoFareRule = errors.New("fare: no fare rule")
)

// SameStationRuleID is the Quote.RuleID of a journey that enters and leaves
// in the same station area when the feed has no rule for that pair.
const SameStationRuleID = "same-station"

// Quote is the price of one journey and where it came from.
type Quote struct {
	Amount    decimal.Decimal // whole dong
	ProductID string          // fare_products.fare_product_id
	// RuleID names the fare_leg_rules.txt row that priced the journey, as
	// "fare_leg_rules.txt:17", or SameStationRuleID.
	RuleID     string
	NetworkID  string
	OperatorID string
}

// Price prices one journey from the entry stop to the exit stop for the
// default rider category (adult).
//
// Riders do leave where they entered (wrong gate, changed plans). Unless the
// feed has an explicit rule for that station pair, such a journey costs the
// network's minimum fare, with RuleID SameStationRuleID: the rider passed the
// gates and used the station, and the lowest fare is the least surprising charge.
func (t *Table) Price(from, to string) (Quote, error) {
	a, ok := t.stops[from]
	if !ok {
		return Quote{}, fmt.Errorf("%w: entry %q", ErrUnknownStop, from)
	}
	b, ok := t.stops[to]
	if !ok {
		return Quote{}, fmt.Errorf("%w: exit %q", ErrUnknownStop, to)
	}
	if a.NetworkID == "" || a.NetworkID != b.NetworkID {
		// Journeys across networks need transfer rules, which come later.
		return Quote{}, fmt.Errorf("%w: %q to %q", ErrNoFareRule, from, to)
	}
	r, ok := t.rules[odKey{a.NetworkID, a.AreaID, b.AreaID}]
	if !ok {
		bounds, has := t.bounds[a.NetworkID]
		if a.AreaID != b.AreaID || !has {
			return Quote{}, fmt.Errorf("%w: %q to %q", ErrNoFareRule, from, to)
		}
		r = bounds.min
		r.id = SameStationRuleID
	}
	return Quote{
		Amount:     r.amount,
		ProductID:  r.product,
		RuleID:     r.id,
		NetworkID:  a.NetworkID,
		OperatorID: a.OperatorID,
	}, nil
}

// MaxFare is the highest single fare in the network for the default rider
// category: what a rider owes when the exit is unknown, and the balance an
// entry must cover. Zero for a network without fares.
func (t *Table) MaxFare(networkID string) decimal.Decimal {
	b, ok := t.bounds[networkID]
	if !ok {
		return decimal.Zero
	}
	return b.max.amount
}

// MinFare is the lowest single fare in the network for the default rider
// category. Zero for a network without fares.
func (t *Table) MinFare(networkID string) decimal.Decimal {
	b, ok := t.bounds[networkID]
	if !ok {
		return decimal.Zero
	}
	return b.min.amount
}
