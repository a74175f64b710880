package explain

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/money"
)

// Price is what a trip would cost, and the rows of the fare data that say
// so.
type Price struct {
	From     Station `json:"from"`
	To       Station `json:"to"`
	At       string  `json:"at"` // RFC 3339, Asia/Ho_Chi_Minh
	Category string  `json:"category"`
	Network  string  `json:"network"`  // of the entry station
	Operator string  `json:"operator"` // of the entry station
	// AmountVND is what the trip costs in whole dong; AmountText the same
	// as riders read it ("15.000 ₫").
	AmountVND  int64  `json:"amount_vnd"`
	AmountText string `json:"amount_text"`
	// ProductID, Rule and ProductRow say where the amount came from: the
	// fare product, the fare_leg_rules.txt row (or "same-station") and the
	// fare_products.txt row of the category's price. For a trip of two
	// legs joined by a transfer, the transfer product and the
	// fare_transfer_rules.txt row; Legs then has each leg.
	ProductID  string `json:"product_id"`
	Rule       string `json:"rule"`
	ProductRow string `json:"product_row"`
	Legs       []Leg  `json:"legs"`
	// TransferVND is what the transfer changed (negative: a discount).
	TransferVND int64 `json:"transfer_vnd,omitempty"`
	Explanation Text  `json:"explanation"`
}

// Leg is one leg of a quoted trip.
type Leg struct {
	From       Station `json:"from"`
	To         Station `json:"to"`
	Network    string  `json:"network"`
	Operator   string  `json:"operator"`
	AmountVND  int64   `json:"amount_vnd"`
	AmountText string  `json:"amount_text"`
	ProductID  string  `json:"product_id"`
	Rule       string  `json:"rule"`
	ProductRow string  `json:"product_row"`
}

// Text is one sentence in each language.
type Text struct {
	VI string `json:"vi"`
	EN string `json:"en"`
}

// Quote prices a trip from one station to another for a rider category
// ("" is the network's default, adult) entering at a time, as a gate would
// for a rider with nothing spent yet that day (no cap applies).
//
// Stations on two networks of one feed (Hanoi Line 2A and Line 3) are no
// single fare: the trip is quoted as two legs joined at the interchange
// that the feed's transfer rules name, taking the transfer at once; the
// cheapest such pair of legs is the price. Errors are *QueryError naming
// the field at fault, wrapping fare.ErrUnknownStop, fare.ErrUnknownCategory
// or fare.ErrNoFareRule.
func Quote(f Fares, from, to, category string, at time.Time) (Price, error) {
	a, ok := f.Stop(from)
	if !ok {
		return Price{}, &QueryError{"from", fare.ErrUnknownStop}
	}
	b, ok := f.Stop(to)
	if !ok {
		return Price{}, &QueryError{"to", fare.ErrUnknownStop}
	}
	p := Price{From: station(f, from), To: station(f, to), At: local(at)}
	q, err := f.PriceFor(fare.Query{From: from, To: to, Category: category, At: at})
	switch {
	case err == nil:
		leg := legOf(f, from, to, q)
		p.Category, p.Network, p.Operator = q.Category, q.NetworkID, q.OperatorID
		p.AmountVND, p.AmountText = leg.AmountVND, leg.AmountText
		p.ProductID, p.Rule, p.ProductRow = q.ProductID, q.RuleID, q.ProductRowID
		p.Legs = []Leg{leg}
		p.Explanation = singleText(p, q)
		return p, nil
	case errors.Is(err, fare.ErrUnknownCategory):
		return Price{}, &QueryError{"category", err}
	case a.NetworkID != "" && b.NetworkID != "" && a.NetworkID != b.NetworkID:
		// Two networks (or two cities): no single fare, perhaps two legs.
		return viaTransfer(f, p, a, b, category, at)
	case category != "" && !pricesCategory(f, a, category, at):
		// A concession the network does not sell (a worker on Line 3).
		return Price{}, &QueryError{"category", err}
	default:
		return Price{}, &QueryError{"to", err}
	}
}

// pricesCategory reports whether the network of s prices a category at all.
func pricesCategory(f Fares, s fare.Stop, category string, at time.Time) bool {
	_, err := f.PriceFor(fare.Query{From: s.ID, To: s.ID, Category: category, At: at})
	return err == nil
}

func legOf(f Fares, from, to string, q fare.Quote) Leg {
	return Leg{
		From: station(f, from), To: station(f, to), Network: q.NetworkID, Operator: q.OperatorID,
		AmountVND: vnd(q.Amount), AmountText: money.Format(q.Amount),
		ProductID: q.ProductID, Rule: q.RuleID, ProductRow: q.ProductRowID,
	}
}

func singleText(p Price, q fare.Quote) Text {
	rows := q.RuleID
	if q.ProductRowID != "" {
		rows += ", " + q.ProductRowID
	}
	if q.RuleID == fare.SameStationRuleID {
		return Text{
			VI: "Vào và ra cùng ga " + p.From.Name + ", hạng " + q.Category + ": giá tối thiểu " + p.AmountText + " (" + rows + ")",
			EN: "Entering and leaving at the same station, " + p.From.Name + ", category " + q.Category + ": minimum fare " + p.AmountText + " (" + rows + ")",
		}
	}
	vi, en := p.AmountText, p.AmountText
	if q.Amount.IsZero() {
		vi, en = "miễn phí, "+vi, "free, "+en
	}
	return Text{
		VI: "Giá vé " + p.From.Name + " → " + p.To.Name + ", hạng " + q.Category + ": " + vi + " (" + rows + ")",
		EN: "Fare " + p.From.Name + " → " + p.To.Name + ", category " + q.Category + ": " + en + " (" + rows + ")",
	}
}

// viaTransfer quotes a trip between two networks as the cheapest pair of
// legs (from → x on a's network, y → to on b's) that a transfer rule joins.
// The rules name the interchange through their leg groups, so no pairing of
// stations is assumed here.
func viaTransfer(f Fares, p Price, a, b fare.Stop, category string, at time.Time) (Price, error) {
	var xs, ys []fare.Stop
	for _, s := range f.Stops() {
		switch {
		case s.NetworkID == a.NetworkID && s.ID != a.ID:
			xs = append(xs, s)
		case s.NetworkID == b.NetworkID && s.ID != b.ID:
			ys = append(ys, s)
		}
	}
	var (
		found  bool
		x, y   string
		first  fare.Quote
		second fare.TransferQuote
	)
	for _, sx := range xs {
		qa, err := f.PriceFor(fare.Query{From: a.ID, To: sx.ID, Category: category, At: at})
		if err != nil {
			continue
		}
		prev := fare.Leg{From: a.ID, To: sx.ID, EntryAt: at, ExitAt: at, Category: category, Charged: qa.Amount}
		for _, sy := range ys {
			t, err := f.Transfer(prev, fare.Leg{From: sy.ID, To: b.ID, EntryAt: at, ExitAt: at, Category: category})
			if err != nil || t.RuleID == "" {
				continue
			}
			if !found || t.Journey.LessThan(second.Journey) {
				found, x, y, first, second = true, sx.ID, sy.ID, qa, t
			}
		}
	}
	if !found {
		if category != "" && (!pricesCategory(f, a, category, at) || !pricesCategory(f, b, category, at)) {
			return Price{}, &QueryError{"category", fmt.Errorf("%w: %q to %q for rider category %q", fare.ErrNoFareRule, a.ID, b.ID, category)}
		}
		return Price{}, &QueryError{"to", fmt.Errorf("%w: %q to %q: different networks and no transfer rule joins them", fare.ErrNoFareRule, a.ID, b.ID)}
	}
	l1, l2 := legOf(f, a.ID, x, first), legOf(f, y, b.ID, second.Next)
	p.Category, p.Network, p.Operator = first.Category, first.NetworkID, first.OperatorID
	p.AmountVND, p.AmountText = vnd(second.Journey), money.Format(second.Journey)
	p.ProductID, p.Rule, p.ProductRow = second.ProductID, second.RuleID, second.ProductRowID
	p.Legs = []Leg{l1, l2}
	p.TransferVND = vnd(second.Adjustment)
	at1 := l1.To.Name
	if l2.From.Name != at1 {
		at1 += " / " + l2.From.Name
	}
	sum := l1.AmountText + " + " + l2.AmountText
	switch {
	case second.Adjustment.IsNegative():
		sum += " − " + money.Format(second.Adjustment.Neg())
	case second.Adjustment.IsPositive():
		sum += " + " + money.Format(second.Adjustment)
	}
	rows := strings.Join([]string{l1.Rule, l2.Rule, second.RuleID}, ", ")
	p.Explanation = Text{
		VI: "Giá vé " + p.From.Name + " → " + p.To.Name + ", hạng " + p.Category + ", chuyển tuyến tại " + at1 + ": " +
			sum + " = " + p.AmountText + " (" + rows + ")",
		EN: "Fare " + p.From.Name + " → " + p.To.Name + ", category " + p.Category + ", changing lines at " + at1 + ": " +
			sum + " = " + p.AmountText + " (" + rows + ")",
	}
	return p, nil
}
