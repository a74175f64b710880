package fare

import "github.com/shopspring/decimal"

// CapKind says which cap lowered a charge.
type CapKind string

const (
	CapNone  CapKind = ""
	CapDay   CapKind = "day"   // the network's 1-day pass price, per local day
	CapMonth CapKind = "month" // the network's 1-month pass price, per local calendar month
)

// CapResult is what to charge for a journey once the caps are applied, and
// which cap, if any, lowered it.
type CapResult struct {
	Charge decimal.Decimal // what to charge: the fare, or less under a cap
	Cap    CapKind         // the cap that lowered the charge; CapNone if none did
	// Limit, ProductID and RuleID describe that cap: its amount, the pass
	// whose price it is, and the fare_products.txt row of that price for the
	// category ("fare_products.txt:58"). Empty under CapNone.
	Limit     decimal.Decimal
	ProductID string
	RuleID    string
}

// Cap applies the daily and monthly caps of a network to a fare: a rider
// paying as they go never pays more in a day than the network's 1-day pass
// and never more in a calendar month than its 1-month pass, at the prices of
// the rider's category (a student's month caps at the student month pass).
//
// spentToday and spentThisMonth are what the rider was charged on this
// network (after transfers and caps) in the local Day and Month of this
// journey's entry tap; fare is what this journey would cost without caps
// (after any transfer). The tap that crosses a cap pays only up to it; every
// later tap in that day or month pays 0. When both caps bind, the one with
// less left wins, and on a tie the monthly cap (it still binds tomorrow).
//
// A network or category without the pass (a free category, an unknown id)
// has no cap there: the fare is charged as it is.
func (t *Table) Cap(network, category string, spentToday, spentThisMonth, fare decimal.Decimal) CapResult {
	out := CapResult{Charge: fare}
	c, ok := t.categoryIndex(category)
	if !ok || !fare.IsPositive() {
		return out
	}
	caps := t.caps[netCat{network, c}]
	left, lim := fare, capLimit{}
	if l, ok := caps.day.headroom(spentToday); ok && l.LessThan(left) {
		left, lim, out.Cap = l, caps.day, CapDay
	}
	if l, ok := caps.month.headroom(spentThisMonth); ok && (l.LessThan(left) || (out.Cap == CapDay && l.Equal(left))) {
		left, lim, out.Cap = l, caps.month, CapMonth
	}
	if out.Cap == CapNone {
		return out
	}
	out.Charge, out.Limit, out.ProductID, out.RuleID = left, lim.amount, lim.product, lim.row
	return out
}

// headroom is what is left under the cap after spent, never below zero;
// false when there is no such cap.
func (c capLimit) headroom(spent decimal.Decimal) (decimal.Decimal, bool) {
	if !c.ok {
		return decimal.Decimal{}, false
	}
	return decimal.Max(c.amount.Sub(spent), decimal.Zero), true
}
