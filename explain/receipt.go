package explain

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/money"
)

// Receipt is why a rider paid what they paid for a journey. It never holds
// the rider's VNeID subject: whoever may read the journey may read this.
type Receipt struct {
	JourneyID int64  `json:"journey_id"`
	Status    string `json:"status"` // open, closed or incomplete
	Network   string `json:"network"`
	Operator  string `json:"operator"`
	Category  string `json:"category"`
	Entry     *Tap   `json:"entry,omitempty"` // nil when the entry tap is missing
	Exit      *Tap   `json:"exit,omitempty"`  // nil when the exit tap is missing or yet to come
	// FullFare is the fare before caps and transfers; Charged what was
	// taken from the rider's account.
	FullFareVND  int64  `json:"full_fare_vnd"`
	FullFareText string `json:"full_fare_text"`
	ChargedVND   int64  `json:"charged_vnd"`
	ChargedText  string `json:"charged_text"`
	// FareRule is the rule that priced the journey: a fare_leg_rules.txt
	// row, "same-station", or one of the Rule* max-fare rules. ProductRow
	// is the fare_products.txt row of the category's price, when today's
	// fare data still prices the journey with the same rule and amount.
	FareRule   string `json:"fare_rule"`
	ProductRow string `json:"product_row,omitempty"`
	// Cap is the cap that lowered the charge ("day", "month"), CapRule the
	// fare_products.txt row of its price and CapLimit that price (when
	// today's data still has that row).
	Cap          string `json:"cap,omitempty"`
	CapRule      string `json:"cap_rule,omitempty"`
	CapLimitVND  int64  `json:"cap_limit_vnd,omitempty"`
	CapLimitText string `json:"cap_limit_text,omitempty"`
	TransferRule string `json:"transfer_rule,omitempty"`
	TransferFrom int64  `json:"transfer_from,omitempty"` // the journey this one continued
	PassID       int64  `json:"pass_id,omitempty"`       // the pass that paid for it
	// Ledger is the ledger transactions that moved the fare, oldest first.
	Ledger      []Posting `json:"ledger"`
	Explanation Lines     `json:"explanation"`
}

// Tap is one end of a journey.
type Tap struct {
	Station
	At string `json:"at"` // RFC 3339, Asia/Ho_Chi_Minh
}

// Lines explain a charge step by step, the same steps in each language.
type Lines struct {
	VI []string `json:"vi"`
	EN []string `json:"en"`
}

func (l *Lines) add(vi, en string) {
	l.VI = append(l.VI, vi)
	l.EN = append(l.EN, en)
}

// Journey explains a recorded journey: the rule that priced it, the rider
// category, the transfer, pass or cap that changed the amount, and the
// ledger transactions that moved the money (ps, oldest first, as
// Journeys.FarePostings returns them). It reads what admission recorded;
// today's fare data adds only station names and, where it still agrees with
// the record, the product row and the cap's amount.
func Journey(f Fares, j admission.Journey, ps []Posting) Receipt {
	r := Receipt{
		JourneyID: j.ID, Status: string(j.Status), Network: j.NetworkID, Operator: j.OperatorID, Category: j.Category,
		FullFareVND: vnd(j.FullFare), FullFareText: money.Format(j.FullFare),
		ChargedVND: vnd(j.Fare), ChargedText: money.Format(j.Fare),
		FareRule: j.FareRule, Cap: j.Cap, CapRule: j.CapRule,
		TransferRule: j.TransferRule, TransferFrom: j.TransferFrom, PassID: j.PassID, Ledger: ps,
	}
	if j.EntrySite != "" {
		r.Entry = &Tap{Station: station(f, j.EntrySite), At: local(j.EntryAt)}
	}
	if j.ExitSite != "" {
		r.Exit = &Tap{Station: station(f, j.ExitSite), At: local(j.ExitAt)}
	}
	if j.Status == admission.JourneyOpen {
		r.Explanation.add(
			"Hành trình chưa kết thúc: vào ga "+r.Entry.nameOr("?")+" lúc "+clockVI(j.EntryAt)+", chưa thu tiền",
			"Journey still open: entered "+r.Entry.nameOr("?")+" at "+clockEN(j.EntryAt)+", nothing charged yet")
		return r
	}
	if j.Status == admission.JourneyClosed && j.EntrySite != "" && j.ExitSite != "" {
		q, err := f.PriceFor(fare.Query{From: j.EntrySite, To: j.ExitSite, Category: j.Category, At: j.EntryAt})
		if err == nil && q.RuleID == j.FareRule && q.Amount.Equal(j.FullFare) {
			r.ProductRow = q.ProductRowID
		}
	}
	if j.Cap != "" {
		if limit, ok := capLimit(f, j); ok {
			r.CapLimitVND, r.CapLimitText = vnd(limit), money.Format(limit)
		}
	}

	full := money.Format(j.FullFare)
	rule := " (" + j.FareRule + ")"
	switch j.FareRule {
	case fare.SameStationRuleID:
		r.Explanation.add(
			"Vào và ra cùng ga "+r.Entry.nameOr("?")+": giá tối thiểu "+full+rule,
			"Entered and left at the same station, "+r.Entry.nameOr("?")+": minimum fare "+full+rule)
	case admission.RuleMissingExit:
		r.Explanation.add(
			"Thiếu lượt ra: thu giá tối đa "+full+rule,
			"No exit tap: maximum fare "+full+rule)
		r.Explanation.add(
			"Vào ga "+r.Entry.nameOr("?")+" lúc "+clockVI(j.EntryAt)+", không có lượt ra trong thời gian tối đa của một hành trình",
			"Entered "+r.Entry.nameOr("?")+" at "+clockEN(j.EntryAt)+" and tapped out nowhere within the longest journey time")
	case admission.RuleMissingEntry:
		r.Explanation.add(
			"Thiếu lượt vào: thu giá tối đa "+full+rule,
			"No entry tap: maximum fare "+full+rule)
		r.Explanation.add(
			"Ra ga "+r.Exit.nameOr("?")+" lúc "+clockVI(j.ExitAt)+" mà không có lượt vào trên tuyến này",
			"Tapped out at "+r.Exit.nameOr("?")+" at "+clockEN(j.ExitAt)+" with no entry tap on this network")
	case admission.RuleOverMaxJourney:
		d := j.ExitAt.Sub(j.EntryAt)
		r.Explanation.add(
			"Quá thời gian tối đa của một hành trình: thu giá tối đa "+full+rule,
			"Over the longest journey time: maximum fare "+full+rule)
		r.Explanation.add(
			"Vào ga "+r.Entry.nameOr("?")+" lúc "+clockVI(j.EntryAt)+", ra ga "+r.Exit.nameOr("?")+" lúc "+clockVI(j.ExitAt)+" ("+durationVI(d)+" trong hệ thống)",
			"Entered "+r.Entry.nameOr("?")+" at "+clockEN(j.EntryAt)+", left "+r.Exit.nameOr("?")+" at "+clockEN(j.ExitAt)+" ("+durationEN(d)+" inside)")
	default: // a fare_leg_rules.txt row
		r.Explanation.add(
			"Giá vé "+r.Entry.nameOr("?")+" → "+r.Exit.nameOr("?")+": "+full+rule,
			"Fare "+r.Entry.nameOr("?")+" → "+r.Exit.nameOr("?")+": "+full+rule)
	}

	row := ""
	if r.ProductRow != "" {
		row = " (" + r.ProductRow + ")"
	}
	if j.FullFare.IsZero() {
		r.Explanation.add("Miễn phí cho hạng hành khách "+j.Category+row, "Free for rider category "+j.Category+row)
	} else {
		r.Explanation.add("Hạng hành khách: "+j.Category+row, "Rider category: "+j.Category+row)
	}

	if j.TransferRule != "" {
		vi := fmt.Sprintf("Chuyển tuyến, nối tiếp hành trình #%d (%s)", j.TransferFrom, j.TransferRule)
		en := fmt.Sprintf("Change of line continuing journey #%d (%s)", j.TransferFrom, j.TransferRule)
		// Without a cap the discount is what the transfer took off; under
		// a cap too, the amount between the two was not recorded.
		if off := j.FullFare.Sub(j.Fare); j.Cap == "" && off.IsPositive() {
			vi += ": giảm " + money.Format(off)
			en += ": " + money.Format(off) + " off"
		}
		r.Explanation.add(vi, en)
	}

	if j.Cap != "" {
		kindVI, kindEN := "ngày", "Daily"
		if j.Cap == string(fare.CapMonth) {
			kindVI, kindEN = "tháng", "Monthly"
		}
		limitVI, limitEN := "", ""
		if r.CapLimitText != "" {
			limitVI, limitEN = " "+r.CapLimitText, " of "+r.CapLimitText
		}
		insteadVI, insteadEN := "", ""
		if j.TransferRule == "" {
			insteadVI, insteadEN = " thay vì "+full, " instead of "+full
		}
		r.Explanation.add(
			"Đã áp dụng mức trần "+kindVI+limitVI+": thu "+money.Format(j.Fare)+insteadVI+" ("+j.CapRule+")",
			kindEN+" cap"+limitEN+" applied: charged "+money.Format(j.Fare)+insteadEN+" ("+j.CapRule+")")
	}

	if repriced(j, ps) {
		r.Explanation.add(
			"Lượt ra đến muộn (ra ga "+r.Exit.nameOr("?")+" lúc "+clockVI(j.ExitAt)+"): hành trình đã bị thu giá tối đa vì thiếu lượt ra, nay được tính lại theo lượt vào và ra",
			"Late exit tap (at "+r.Exit.nameOr("?")+" at "+clockEN(j.ExitAt)+"): the journey charged the maximum fare for a missing exit was repriced from its taps")
	}
	if j.PassID != 0 {
		r.Explanation.add(
			fmt.Sprintf("Đi bằng vé kỳ #%d: không thu tiền", j.PassID),
			fmt.Sprintf("Travelling on pass #%d: nothing charged", j.PassID))
	}
	paid := decimal.Zero
	for _, p := range ps {
		paid = paid.Add(p.Amount)
		if p.Kind == KindRefund {
			r.Explanation.add(
				fmt.Sprintf("Nhà vận hành hoàn %s: %s (giao dịch sổ cái #%d)", money.Format(p.Amount.Neg()), p.Reason, p.TransactionID),
				fmt.Sprintf("Refunded %s by the operator: %s (ledger transaction #%d)", money.Format(p.Amount.Neg()), p.Reason, p.TransactionID))
		} else if p.Amount.IsNegative() {
			r.Explanation.add(
				fmt.Sprintf("Hoàn lại %s (giao dịch sổ cái #%d)", money.Format(p.Amount.Neg()), p.TransactionID),
				fmt.Sprintf("Refunded %s (ledger transaction #%d)", money.Format(p.Amount.Neg()), p.TransactionID))
		} else {
			r.Explanation.add(
				fmt.Sprintf("Đã thu %s (giao dịch sổ cái #%d)", money.Format(p.Amount), p.TransactionID),
				fmt.Sprintf("Charged %s (ledger transaction #%d)", money.Format(p.Amount), p.TransactionID))
		}
	}
	switch {
	case len(ps) > 1:
		r.Explanation.add("Tổng đã thu: "+money.Format(paid), "Total charged: "+money.Format(paid))
	case len(ps) == 1:
	case j.Fare.IsPositive(): // the ledger was not read
		r.Explanation.add("Đã thu "+money.Format(j.Fare), "Charged "+money.Format(j.Fare))
	case j.PassID == 0:
		r.Explanation.add("Không thu tiền", "Nothing charged")
	}
	return r
}

// repriced reports a journey first charged the maximum fare for a missing
// exit and priced again from its taps when the exit came late: it now has
// a rule of its own, and the charge is still keyed by the missing exit.
func repriced(j admission.Journey, ps []Posting) bool {
	if j.FareRule == admission.RuleMissingExit || j.FareRule == admission.RuleOverMaxJourney {
		return false
	}
	for _, p := range ps {
		if p.Kind == KindFareCorrection || strings.HasPrefix(p.Key, "fare:missing-exit:") {
			return true
		}
	}
	return false
}

func (t *Tap) nameOr(s string) string {
	if t == nil {
		return s
	}
	return t.Name
}

// capLimit is the amount of the cap that lowered j's fare, from today's
// data, if its fare_products.txt row is still the one recorded. Cap reports
// the limit of the cap that binds; a huge fare and a negative spend on the
// other cap make the recorded kind the one that binds.
func capLimit(f Fares, j admission.Journey) (decimal.Decimal, bool) {
	huge := decimal.New(1, 15)
	var c fare.CapResult
	switch fare.CapKind(j.Cap) {
	case fare.CapDay:
		c = f.Cap(j.NetworkID, j.Category, decimal.Zero, huge.Neg(), huge)
	case fare.CapMonth:
		c = f.Cap(j.NetworkID, j.Category, huge.Neg(), decimal.Zero, huge)
	default:
		return decimal.Zero, false
	}
	if string(c.Cap) != j.Cap || c.RuleID != j.CapRule {
		return decimal.Zero, false
	}
	return c.Limit, true
}

func durationVI(d time.Duration) string {
	h, m := int(d.Hours()), int(d.Minutes())%60
	if h == 0 {
		return fmt.Sprintf("%d phút", m)
	}
	return fmt.Sprintf("%d giờ %d phút", h, m)
}

func durationEN(d time.Duration) string {
	h, m := int(d.Hours()), int(d.Minutes())%60
	if h == 0 {
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}
