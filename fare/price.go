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
	// At is the entry time, ExitAt the exit time: a fare leg rule with a
	// from_timeframe_group_id applies only when At falls in one of the
	// group's timeframes, one with a to_timeframe_group_id only when ExitAt
	// does (GTFS timeframes, in local time, Zone). No shipped rule depends
	// on the time yet.
	//
	// A zero At is no time: it falls in no timeframe, so only rules without
	// one apply. A zero ExitAt is an exit not known yet (a quote, a balance
	// check at the entry gate): the exit is taken to be at At, as if the
	// journey took no time. An exit gate knows the exit and should pass it.
	At, ExitAt time.Time
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
// Of the fare leg rules for the journey's pair of areas that price the
// category and whose timeframes hold the taps (see Query), the one with the
// highest rule_priority applies; at equal priority, one whose product has a
// row for the category wins over a row for any category. The loader has
// refused data where that leaves a choice.
//
// Riders do leave where they entered (wrong gate, changed plans). Unless the
// feed has an explicit rule for that station pair, such a journey costs the
// network's minimum fare for the category, with RuleID SameStationRuleID:
// the rider passed the gates and used the station, and the lowest fare is
// the least surprising charge. Where fares depend on the time, that is the
// lowest fare that applies at the journey's times.
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
	var f *catFare
	if fares, ok := t.rules[odKey{a.NetworkID, a.AreaID, b.AreaID}]; ok {
		if cands := fares[c]; len(cands) > 0 && !cands[0].timed() {
			f = &cands[0] // the common case: one fare at any time
		} else {
			f = pick(cands, q.At, q.ExitAt)
		}
	}
	if f == nil {
		if a.AreaID == b.AreaID {
			return t.sameStation(q, c, a)
		}
		return Quote{}, t.noRule(q, c)
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

// sameStation prices a journey that leaves in the area it entered, for
// which no rule applies: the network's cheapest fare (see PriceFor).
func (t *Table) sameStation(q Query, c int, a Stop) (Quote, error) {
	f, ok := t.cheapest(a.NetworkID, c, q.At, q.ExitAt)
	if !ok {
		return Quote{}, t.noRule(q, c)
	}
	return Quote{
		Amount:       f.amount,
		ProductID:    f.product,
		RuleID:       SameStationRuleID,
		NetworkID:    a.NetworkID,
		OperatorID:   a.OperatorID,
		Category:     t.categories[c].id,
		ProductRowID: f.row,
	}, nil
}

func (t *Table) noRule(q Query, c int) error {
	return fmt.Errorf("%w: %q to %q for rider category %q", ErrNoFareRule, q.From, q.To, t.categories[c].id)
}

// legGroup is the leg_group_id of the rule that PriceFor uses for q; "" for
// none, and for a same-station journey priced without a rule of its own.
func (t *Table) legGroup(q Query) string {
	c, ok := t.categoryIndex(q.Category)
	if !ok {
		return ""
	}
	a, b := t.stops[q.From], t.stops[q.To]
	fares, ok := t.rules[odKey{a.NetworkID, a.AreaID, b.AreaID}]
	if !ok {
		return ""
	}
	if f := pick(fares[c], q.At, q.ExitAt); f != nil {
		return f.legGroup
	}
	return ""
}

// cheapest is the lowest fare of a network for category c at the times of
// a journey: over all times (bounds) unless a fare depends on the time;
// then, of the fares that apply at those times, the lowest, and of equal
// ones the first in fare_leg_rules.txt. False when none applies.
func (t *Table) cheapest(network string, c int, at, exitAt time.Time) (catFare, bool) {
	if !t.timed[network] {
		b, ok := t.bounds[netCat{network, c}]
		return b.min, ok
	}
	var best *catFare
	for _, fares := range t.netFares[network] {
		f := pick(fares[c], at, exitAt)
		if f != nil && (best == nil || f.amount.LessThan(best.amount) || (f.amount.Equal(best.amount) && f.line < best.line)) {
			best = f
		}
	}
	if best == nil {
		return catFare{}, false
	}
	return *best, true
}

// MaxFare is the highest single fare in the network for the default rider
// category, at any time: what a rider owes when the exit is unknown, and
// the balance an entry must cover. Zero for a network without fares.
func (t *Table) MaxFare(networkID string) decimal.Decimal {
	return t.MaxFareFor(networkID, "")
}

// MinFare is the lowest single fare in the network for the default rider
// category, at any time. Zero for a network without fares.
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
