package fare

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

var (
	// ErrUnknownStop: the stop_id is not in stops.txt.
	ErrUnknownStop = errors.New("fare: unknown stop")
	// ErrNoFareRule: both stops exist but no fare leg rule prices the journey
	// for the rider category (a stop outside every fare network, stops in
	// different networks, a gap in the origin-destination matrix, or a
	// category the network does not price).
	ErrNoFareRule = errors.New("fare: no fare rule")
	// ErrUnknownCategory: the rider_category_id is not in rider_categories.txt.
	ErrUnknownCategory = errors.New("fare: unknown rider category")
)

// SameStationRuleID is the Quote.RuleID of a journey that enters and leaves
// in the same station area when the feed has no rule for that pair.
const SameStationRuleID = "same-station"

// Query asks the price of one journey.
type Query struct {
	From, To string // entry and exit stop_id
	// Category is the rider_category_id (see Table.Category); "" is the
	// default category.
	Category string
	// At is the entry time. No shipped rule depends on the time of day yet
	// (GTFS timeframes); it is part of the question so that callers already
	// ask it.
	At time.Time
}

// Quote is the price of one journey and where it came from.
type Quote struct {
	Amount    decimal.Decimal // whole dong
	ProductID string          // fare_products.fare_product_id
	// RuleID names the fare_leg_rules.txt row that priced the journey, as
	// "fare_leg_rules.txt:17", or SameStationRuleID.
	RuleID     string
	NetworkID  string
	OperatorID string
	Category   string // the rider_category_id priced; "" if the feed has none
	// ProductRowID names the fare_products.txt row that set the amount for
	// the category, as "fare_products.txt:9": why a senior paid 0.
	ProductRowID string
}

// Price prices one journey from the entry stop to the exit stop for the
// default rider category (adult). It is PriceFor without a category.
func (t *Table) Price(from, to string) (Quote, error) {
	return t.PriceFor(Query{From: from, To: to})
}

// PriceFor prices one journey for a rider category.
//
// Riders do leave where they entered (wrong gate, changed plans). Unless the
// feed has an explicit rule for that station pair, such a journey costs the
// network's minimum fare for the category, with RuleID SameStationRuleID:
// the rider passed the gates and used the station, and the lowest fare is
// the least surprising charge.
//
// It does not allocate unless it fails.
func (t *Table) PriceFor(q Query) (Quote, error) {
	c, ok := t.categoryIndex(q.Category)
	if !ok {
		return Quote{}, fmt.Errorf("%w: %q", ErrUnknownCategory, q.Category)
	}
	a, ok := t.stops[q.From]
	if !ok {
		return Quote{}, fmt.Errorf("%w: entry %q", ErrUnknownStop, q.From)
	}
	b, ok := t.stops[q.To]
	if !ok {
		return Quote{}, fmt.Errorf("%w: exit %q", ErrUnknownStop, q.To)
	}
	if a.NetworkID == "" || a.NetworkID != b.NetworkID {
		// Journeys across networks are two legs; see Transfer.
		return Quote{}, fmt.Errorf("%w: %q to %q", ErrNoFareRule, q.From, q.To)
	}
	var f catFare
	if fares, ok := t.rules[odKey{a.NetworkID, a.AreaID, b.AreaID}]; ok {
		f = fares[c]
	}
	if !f.ok {
		bounds, has := t.bounds[netCat{a.NetworkID, c}]
		if a.AreaID != b.AreaID || !has {
			return Quote{}, fmt.Errorf("%w: %q to %q for rider category %q", ErrNoFareRule, q.From, q.To, t.categories[c].id)
		}
		f = bounds.min
		f.rule = SameStationRuleID
	}
	return Quote{
		Amount:       f.amount,
		ProductID:    f.product,
		RuleID:       f.rule,
		NetworkID:    a.NetworkID,
		OperatorID:   a.OperatorID,
		Category:     t.categories[c].id,
		ProductRowID: f.row,
	}, nil
}

// MaxFare is the highest single fare in the network for the default rider
// category: what a rider owes when the exit is unknown, and the balance an
// entry must cover. Zero for a network without fares.
func (t *Table) MaxFare(networkID string) decimal.Decimal {
	return t.MaxFareFor(networkID, "")
}

// MinFare is the lowest single fare in the network for the default rider
// category. Zero for a network without fares.
func (t *Table) MinFare(networkID string) decimal.Decimal {
	return t.MinFareFor(networkID, "")
}

// MaxFareFor is MaxFare for a rider category ("" is the default): zero for a
// free category, and for a network or category without fares.
func (t *Table) MaxFareFor(networkID, category string) decimal.Decimal {
	b, ok := t.boundsFor(networkID, category)
	if !ok {
		return decimal.Zero
	}
	return b.max.amount
}

// MinFareFor is MinFare for a rider category ("" is the default).
func (t *Table) MinFareFor(networkID, category string) decimal.Decimal {
	b, ok := t.boundsFor(networkID, category)
	if !ok {
		return decimal.Zero
	}
	return b.min.amount
}

func (t *Table) boundsFor(networkID, category string) (fareBounds, bool) {
	c, ok := t.categoryIndex(category)
	if !ok {
		return fareBounds{}, false
	}
	b, ok := t.bounds[netCat{networkID, c}]
	return b, ok
}
