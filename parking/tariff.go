package parking

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/money"
)

// Tariff is what a lot charges one class of vehicle, loaded from
// tariffs.csv. A tariff is either per turn (day and night windows, at most
// one 24-hour price) or hourly by bands (hours 1-2, 3-4, 5+); either may
// have free grace minutes and a month subscription price.
type Tariff struct {
	ID, City string
	Class    Class
	Grace    time.Duration
	GraceRow string
	Turns    []Turn
	Per24h   decimal.Decimal // zero: a full day costs every turn's price
	Per24Row string
	Hourly   []Band
	Month    decimal.Decimal // zero: no subscriptions
	MonthRow string
}

// Turn is a window of the day (local time) with one price per visit: a
// session pays each window it touches.
type Turn struct {
	Start, End int // minutes from local midnight; End <= Start wraps past midnight
	Price      decimal.Decimal
	Row        string
}

// Band prices the hours From..To (1-based, To 0 for every hour after) of a
// session, each started hour at PerHour.
type Band struct {
	From, To int
	PerHour  decimal.Decimal
	Row      string
}

// Step is one line of a quote's explanation.
type Step struct {
	Rule   string          `json:"rule"` // the data row, "tariffs.csv:7"
	VI     string          `json:"vi"`
	EN     string          `json:"en"`
	Amount decimal.Decimal `json:"amount_vnd"`
}

// Quote is a priced stay, with the rows that priced it.
type Quote struct {
	Tariff string          `json:"tariff"`
	Class  Class           `json:"class"`
	From   time.Time       `json:"from"`
	To     time.Time       `json:"to"`
	Amount decimal.Decimal `json:"amount_vnd"`
	Steps  []Step          `json:"steps"`
	// Subscription is set when a subscription covered (part of) the stay.
	Subscription int64 `json:"subscription,omitempty"`
}

// Subscription is a month subscription bound to one plate.
type Subscription struct {
	ID          int64
	Plate       string // normalised
	Tariff      string
	From, Until time.Time
}

// SubscriptionPeriod is the validity of a subscription bought at t: from
// the start of that local day to the same day of the next month.
func SubscriptionPeriod(t time.Time) (from, until time.Time) {
	lt := t.In(Zone)
	from = time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, Zone)
	return from, from.AddDate(0, 1, 0)
}

// ErrTimeOrder: a stay that ends before it starts.
var ErrTimeOrder = errors.New("parking: exit before entry")

// MinCharge is the least a stay past the grace minutes costs: what a
// prepaid rider needs to enter.
func (t *Tariff) MinCharge() decimal.Decimal {
	if len(t.Hourly) > 0 {
		return t.Hourly[0].PerHour
	}
	min := decimal.Zero
	for i, tu := range t.Turns {
		if i == 0 || tu.Price.LessThan(min) {
			min = tu.Price
		}
	}
	return min
}

// Quote prices a stay from in to out for a vehicle holding subs (the
// subscriptions of its plate on this tariff; others are ignored).
func (t *Tariff) Quote(in, out time.Time, subs []Subscription) (Quote, error) {
	q := Quote{Tariff: t.ID, Class: t.Class, From: in, To: out, Amount: decimal.Zero}
	if out.Before(in) {
		return q, fmt.Errorf("%w: %s before %s", ErrTimeOrder, out.Format(time.RFC3339), in.Format(time.RFC3339))
	}
	if d := out.Sub(in); d <= t.Grace {
		q.Steps = append(q.Steps, Step{Rule: t.GraceRow, Amount: decimal.Zero,
			VI: fmt.Sprintf("Gửi %s, trong %d phút miễn phí", dur(d), int(t.Grace.Minutes())),
			EN: fmt.Sprintf("Parked %s, within the %d free minutes", dur(d), int(t.Grace.Minutes()))})
		return q, nil
	}
	for _, span := range t.uncovered(in, out, subs, &q) {
		steps := t.price(span[0], span[1])
		for _, s := range steps {
			q.Amount = q.Amount.Add(s.Amount)
		}
		q.Steps = append(q.Steps, steps...)
	}
	return q, nil
}

// uncovered cuts the stay into the spans no subscription of this tariff
// covers, noting the subscriptions that did.
func (t *Tariff) uncovered(in, out time.Time, subs []Subscription, q *Quote) [][2]time.Time {
	var mine []Subscription
	for _, s := range subs {
		if s.Tariff == t.ID && s.From.Before(out) && s.Until.After(in) {
			mine = append(mine, s)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].From.Before(mine[j].From) })
	var spans [][2]time.Time
	at := in
	for _, s := range mine {
		if s.From.After(at) {
			spans = append(spans, [2]time.Time{at, s.From})
		}
		if s.Until.After(at) {
			end := s.Until
			if end.After(out) {
				end = out
			}
			q.Subscription = s.ID
			q.Steps = append(q.Steps, Step{Rule: t.MonthRow, Amount: decimal.Zero,
				VI: fmt.Sprintf("Vé tháng xe %s đến %s: %s không tính phí", s.Plate, s.Until.In(Zone).Format("02/01/2006"), dur(end.Sub(at))),
				EN: fmt.Sprintf("Month subscription of %s until %s: %s free", s.Plate, s.Until.In(Zone).Format("2006-01-02"), dur(end.Sub(at)))})
			at = s.Until
		}
	}
	if at.Before(out) {
		spans = append(spans, [2]time.Time{at, out})
	}
	return spans
}

// price prices one span with no subscription.
func (t *Tariff) price(a, b time.Time) []Step {
	if len(t.Hourly) > 0 {
		return t.priceHourly(a, b)
	}
	return t.priceTurns(a, b)
}

func (t *Tariff) priceHourly(a, b time.Time) []Step {
	hours := int((b.Sub(a) + time.Hour - 1) / time.Hour)
	var steps []Step
	for _, band := range t.Hourly {
		last := hours
		if band.To != 0 && band.To < last {
			last = band.To
		}
		n := last - band.From + 1
		if n <= 0 {
			continue
		}
		amt := band.PerHour.Mul(decimal.NewFromInt(int64(n)))
		span := fmt.Sprintf("%d-%d", band.From, last)
		if n == 1 {
			span = fmt.Sprint(band.From)
		}
		steps = append(steps, Step{Rule: band.Row, Amount: amt,
			VI: fmt.Sprintf("Giờ %s: %d × %s", span, n, vnd(band.PerHour)),
			EN: fmt.Sprintf("Hour %s: %d × %s", span, n, vnd(band.PerHour))})
	}
	return steps
}

// day24 is the price of a full 24 hours.
func (t *Tariff) day24() (decimal.Decimal, string) {
	if t.Per24h.IsPositive() {
		return t.Per24h, t.Per24Row
	}
	sum := decimal.Zero
	for _, tu := range t.Turns {
		sum = sum.Add(tu.Price)
	}
	return sum, t.Turns[0].Row
}

func (t *Tariff) priceTurns(a, b time.Time) []Step {
	var steps []Step
	full, row := t.day24()
	if n := int(b.Sub(a) / (24 * time.Hour)); n > 0 {
		steps = append(steps, Step{Rule: row, Amount: full.Mul(decimal.NewFromInt(int64(n))),
			VI: fmt.Sprintf("%d × 24 giờ: %d × %s", n, n, vnd(full)),
			EN: fmt.Sprintf("%d × 24 hours: %d × %s", n, n, vnd(full))})
		a = a.Add(time.Duration(n) * 24 * time.Hour)
	}
	if !a.Before(b) {
		return steps
	}
	var rest []Step
	sum := decimal.Zero
	la := a.In(Zone)
	day := time.Date(la.Year(), la.Month(), la.Day(), 0, 0, 0, 0, Zone).AddDate(0, 0, -1)
	for ; day.Before(b); day = day.AddDate(0, 0, 1) {
		for _, tu := range t.Turns {
			start := day.Add(time.Duration(tu.Start) * time.Minute)
			end := day.Add(time.Duration(tu.End) * time.Minute)
			if tu.End <= tu.Start {
				end = end.Add(24 * time.Hour)
			}
			if start.Before(b) && end.After(a) {
				sum = sum.Add(tu.Price)
				rest = append(rest, Step{Rule: tu.Row, Amount: tu.Price,
					VI: fmt.Sprintf("Lượt %s-%s ngày %s: %s", hhmm(tu.Start), hhmm(tu.End), start.Format("02/01"), vnd(tu.Price)),
					EN: fmt.Sprintf("Turn %s-%s on %s: %s", hhmm(tu.Start), hhmm(tu.End), start.Format("01-02"), vnd(tu.Price))})
			}
		}
	}
	if sum.GreaterThan(full) {
		// Capped: the turns cost more than a full day.
		return append(steps, Step{Rule: row, Amount: full,
			VI: fmt.Sprintf("%d lượt, tối đa một ngày đêm: %s", len(rest), vnd(full)),
			EN: fmt.Sprintf("%d turns, capped at a day and night: %s", len(rest), vnd(full))})
	}
	return append(steps, rest...)
}

func hhmm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func dur(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	return fmt.Sprintf("%dh%02d", m/60, m%60)
}

func vnd(d decimal.Decimal) string { return money.Format(d) }
