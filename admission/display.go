package admission

import (
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
)

func (p *Processor) refusal(reason proto.Reason, t proto.Tap, balance *decimal.Decimal) Effect {
	return Effect{Decision: p.decision(t, reason, nil, balance, reason.Display())}
}

// decision builds the reply; the display gets the amounts appended.
func (p *Processor) decision(t proto.Tap, reason proto.Reason, fareAmt, balance *decimal.Decimal, text proto.Display) proto.Decision {
	d := proto.Decision{
		EventID:   t.EventID,
		Open:      reason == proto.ReasonOK,
		Reason:    reason,
		Display:   text,
		DecidedAt: proto.At(p.cfg.Now()),
	}
	if fareAmt != nil {
		v := fareAmt.IntPart()
		d.FareVND = &v
	}
	if balance != nil {
		v := money.Round(*balance).IntPart()
		d.BalanceVND = &v
		d.Display.VI += " · Số dư " + money.Format(*balance)
		d.Display.EN += " · Balance " + money.Format(*balance)
	}
	return d
}

// exitText is what the exit gate shows for a priced journey: free, on a
// pass, with a transfer discount, capped, or the plain fare.
func exitText(o *Journey, full, transfer decimal.Decimal, capped fare.CapResult) proto.Display {
	charged := money.Format(o.Fare)
	switch {
	case full.IsZero():
		return proto.Display{VI: "Miễn phí", EN: "Free fare"}
	case o.PassID != 0:
		return proto.Display{VI: "Đi bằng vé kỳ", EN: "Travelling on your pass"}
	case transfer.IsNegative() && capped.Cap == fare.CapNone:
		return proto.Display{
			VI: "Phí " + charged + " (chuyển tuyến, giảm " + money.Format(transfer.Neg()) + ")",
			EN: "Fare " + charged + " (transfer, " + money.Format(transfer.Neg()) + " off)",
		}
	case capped.Cap == fare.CapDay:
		return proto.Display{
			VI: "Phí " + charged + " (đủ mức trần ngày " + money.Format(capped.Limit) + ")",
			EN: "Fare " + charged + " (daily cap " + money.Format(capped.Limit) + " reached)",
		}
	case capped.Cap == fare.CapMonth:
		return proto.Display{
			VI: "Phí " + charged + " (đủ mức trần tháng " + money.Format(capped.Limit) + ")",
			EN: "Fare " + charged + " (monthly cap " + money.Format(capped.Limit) + " reached)",
		}
	}
	return proto.Display{VI: "Phí " + charged, EN: "Fare " + charged}
}
