package fare

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// ErrNoPass: the fare product is not a pass, or not one sold to the rider
// category.
var ErrNoPass = errors.New("fare: no such pass")

// Pass is a pass a rider holds: unlimited journeys on one network from
// ValidFrom until ValidUntil (excluded).
type Pass struct {
	ProductID string // fare_products.fare_product_id
	NetworkID string
	Category  string          // the rider_category_id it was sold to
	Amount    decimal.Decimal // what it cost
	RuleID    string          // the fare_products.txt row of that price, "fare_products.txt:61"
	ValidFrom time.Time
	// ValidUntil is local midnight (Zone) at the end of the pass's last day:
	// N days (vnpass_duration_unit day) counting the day of ValidFrom, or N
	// calendar months (month) counting the month of ValidFrom.
	ValidUntil time.Time
}

// NewPass prices a pass for a category ("" is the default) and sets its
// validity from start, the moment it is bought or activated: a day pass
// bought at 09:15 is valid until midnight, a 3-day pass until midnight of
// the day after tomorrow, a month pass until the end of the calendar month
// (buy next month's pass with start on the 1st). Validity follows calendar
// days in Asia/Ho_Chi_Minh, like the caps, so that a rider on passes never
// pays more than a rider capped.
func (t *Table) NewPass(productID, category string, start time.Time) (Pass, error) {
	c, ok := t.categoryIndex(category)
	if !ok {
		return Pass{}, fmt.Errorf("%w: %q", ErrUnknownCategory, category)
	}
	p, ok := t.passes[productID]
	if !ok {
		return Pass{}, fmt.Errorf("%w: %q", ErrNoPass, productID)
	}
	f := p.byCat[c]
	if !f.ok {
		return Pass{}, fmt.Errorf("%w: %q for rider category %q", ErrNoPass, productID, t.categories[c].id)
	}
	var until time.Time
	if p.dur.unit == durationMonth {
		first, _ := Month(start)
		until = first.AddDate(0, p.dur.amount, 0)
	} else {
		day, _ := Day(start)
		until = day.AddDate(0, 0, p.dur.amount)
	}
	return Pass{
		ProductID: p.id, NetworkID: p.network, Category: t.categories[c].id,
		Amount: f.amount, RuleID: f.row, ValidFrom: start, ValidUntil: until,
	}, nil
}

// PassCovers reports whether the pass pays for a journey on network that
// enters at at: the pass's network, ValidFrom <= at < ValidUntil. A journey
// that entered within validity is covered even if it leaves after.
func PassCovers(p Pass, network string, at time.Time) bool {
	return p.NetworkID != "" && p.NetworkID == network && !at.Before(p.ValidFrom) && at.Before(p.ValidUntil)
}
