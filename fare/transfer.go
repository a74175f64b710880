package fare

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Leg is one journey on one network, from an entry tap to an exit tap.
type Leg struct {
	From, To string // entry and exit stop_id
	// EntryAt and ExitAt are the entry and exit taps: they price the leg
	// (Query.At and Query.ExitAt, for fares by timeframe) and time the
	// transfer.
	EntryAt, ExitAt time.Time
	Category        string // rider_category_id; "" is the default
	// Charged is what the rider paid for the leg, after any transfer, pass
	// or cap. Transfer reads it of the previous leg only.
	Charged decimal.Decimal
}

// fare_transfer_type values (GTFS).
const (
	TransferFromPlusTransfer       = 0 // A + AB: the first leg's fare and the transfer product
	TransferFromPlusTransferPlusTo = 1 // A + AB + B: both fares and the transfer product (a discount when negative)
	TransferOnly                   = 2 // AB: the transfer product prices both legs
)

// TransferQuote prices a leg that follows another: what it costs alone, and
// what it costs as the second leg of a journey under a transfer rule.
type TransferQuote struct {
	Next Quote // the new leg alone, as PriceFor prices it (B)
	// RuleID names the fare_transfer_rules.txt row that applied, as
	// "fare_transfer_rules.txt:2"; "" when no rule applies and the legs are
	// priced separately. FareTransferType and the product are then empty.
	RuleID           string
	FareTransferType int
	ProductID        string // the transfer product (AB); "" when the rule has none
	ProductRowID     string // its fare_products.txt row for the category
	// Charge is what the new leg costs: Next.Amount adjusted by the rule,
	// never below zero (a transfer does not pay the rider back).
	Charge decimal.Decimal
	// Adjustment is Charge - Next.Amount: what the transfer changed, negative
	// for a discount.
	Adjustment decimal.Decimal
	// Journey is what the two legs cost together: prev.Charged + Charge.
	Journey decimal.Decimal
}

// Transfer prices next as the leg after prev, following
// fare_transfer_rules.txt (GTFS Fares v2):
//
//  1. Each leg's group is the leg_group_id of the fare_leg_rules.txt row that
//     prices it for its category at its times (PriceFor with the leg's entry
//     and exit). A leg with no group (or that entered and left the same
//     station without a rule for it) is in no transfer.
//  2. Rules naming both groups exactly are used if there are any; otherwise
//     rules whose empty from_leg_group_id or to_leg_group_id stands for every
//     group that no rule names there.
//  3. A rule applies if the legs follow each other (next enters no earlier
//     than prev left), the time between the taps that duration_limit_type
//     names is at most duration_limit, and its product, if any, is sold to
//     next's category. transfer_count is met: this is the journey's first
//     transfer.
//  4. With A what prev was charged, B next's fare and AB the product's amount
//     (0 without a product): type 0 charges AB for next, type 1 B + AB, type
//     2 AB - A. A discount never exceeds A: a transfer lowers a fare paid
//     twice, it does not turn a pass or a cap into credit. Nothing is charged
//     below zero. Of several applicable rules, the one cheapest for the rider
//     wins; then file order.
//
// Without an applicable rule, next costs B. Errors are PriceFor's, for
// either leg.
func (t *Table) Transfer(prev, next Leg) (TransferQuote, error) {
	if _, err := t.PriceFor(prev.query()); err != nil {
		return TransferQuote{}, fmt.Errorf("previous leg: %w", err)
	}
	b, err := t.PriceFor(next.query())
	if err != nil {
		return TransferQuote{}, err
	}
	out := TransferQuote{Next: b, Charge: b.Amount, Adjustment: decimal.Zero, Journey: prev.Charged.Add(b.Amount)}
	from, to := t.legGroup(prev.query()), t.legGroup(next.query())
	if from == "" || to == "" || next.EntryAt.Before(prev.ExitAt) {
		return out, nil
	}
	c, _ := t.categoryIndex(next.Category)

	exact := false
	for _, r := range t.transfers {
		if r.from == from && r.to == to {
			exact = true
			break
		}
	}
	best := -1
	var bestCharge decimal.Decimal
	var bestProduct catFare
	for i, r := range t.transfers {
		if exact {
			if r.from != from || r.to != to {
				continue
			}
		} else if !groupMatches(r.from, from, t.namedFrom) || !groupMatches(r.to, to, t.namedTo) {
			continue
		}
		if r.hasLimit && !r.within(prev, next) {
			continue
		}
		var ab catFare
		if r.byCat != nil {
			if ab = r.byCat[c]; !ab.ok {
				continue
			}
		}
		charge := r.charge(prev.Charged, b.Amount, ab.amount)
		if best < 0 || charge.LessThan(bestCharge) {
			best, bestCharge, bestProduct = i, charge, ab
		}
	}
	if best < 0 {
		return out, nil
	}
	r := t.transfers[best]
	out.RuleID, out.FareTransferType = r.id, r.kind
	out.ProductID, out.ProductRowID = bestProduct.product, bestProduct.row
	out.Charge = bestCharge
	out.Adjustment = bestCharge.Sub(b.Amount)
	out.Journey = prev.Charged.Add(bestCharge)
	return out, nil
}

// query asks the price of the leg alone, at its entry and exit times.
func (l Leg) query() Query {
	return Query{From: l.From, To: l.To, Category: l.Category, At: l.EntryAt, ExitAt: l.ExitAt}
}

// groupMatches: a rule's group matches a leg's group exactly, or is empty and
// the leg's group is named by no rule on that side.
func groupMatches(rule, leg string, named map[string]bool) bool {
	return rule == leg || (rule == "" && !named[leg])
}

// within reports whether the time between the taps that duration_limit_type
// names is at most duration_limit.
func (r transferRule) within(prev, next Leg) bool {
	var start, end time.Time
	switch r.limitType {
	case 0: // departure validation of the current leg, arrival of the next
		start, end = prev.EntryAt, next.ExitAt
	case 1: // departure of the current leg, departure of the next
		start, end = prev.EntryAt, next.EntryAt
	case 2: // arrival of the current leg, departure of the next
		start, end = prev.ExitAt, next.EntryAt
	default: // 3: arrival of the current leg, arrival of the next
		start, end = prev.ExitAt, next.ExitAt
	}
	d := end.Sub(start)
	return d >= 0 && d <= r.limit
}

// charge is what the next leg costs under the rule; see Transfer.
func (r transferRule) charge(a, b, ab decimal.Decimal) decimal.Decimal {
	var v decimal.Decimal
	switch r.kind {
	case TransferFromPlusTransfer:
		v = ab
	case TransferFromPlusTransferPlusTo:
		if ab.IsNegative() {
			ab = decimal.Max(ab, a.Neg())
		}
		v = b.Add(ab)
	default: // TransferOnly
		v = ab.Sub(a)
	}
	return decimal.Max(v, decimal.Zero)
}
