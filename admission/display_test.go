package admission

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/proto"
)

func d(v int64) decimal.Decimal { return decimal.NewFromInt(v) }

func TestExitText(t *testing.T) {
	for _, c := range []struct {
		name     string
		j        Journey
		full     decimal.Decimal
		transfer decimal.Decimal
		capped   fare.CapResult
		vi, en   string
	}{
		{"plain", Journey{Fare: d(15000)}, d(15000), d(0), fare.CapResult{}, "Phí 15.000 ₫", "Fare 15.000 ₫"},
		{"free", Journey{Fare: d(0)}, d(0), d(0), fare.CapResult{}, "Miễn phí", "Free fare"},
		{"pass", Journey{Fare: d(0), PassID: 3}, d(15000), d(0), fare.CapResult{}, "Đi bằng vé kỳ", "Travelling on your pass"},
		{"transfer", Journey{Fare: d(6000)}, d(13000), d(-7000), fare.CapResult{}, "Phí 6.000 ₫ (chuyển tuyến, giảm 7.000 ₫)", "Fare 6.000 ₫ (transfer, 7.000 ₫ off)"},
		{"day cap", Journey{Fare: d(7000)}, d(15000), d(0), fare.CapResult{Cap: fare.CapDay, Limit: d(30000)}, "Phí 7.000 ₫ (đủ mức trần ngày 30.000 ₫)", "Fare 7.000 ₫ (daily cap 30.000 ₫ reached)"},
		{"month cap", Journey{Fare: d(5000)}, d(15000), d(0), fare.CapResult{Cap: fare.CapMonth, Limit: d(200000)}, "Phí 5.000 ₫ (đủ mức trần tháng 200.000 ₫)", "Fare 5.000 ₫ (monthly cap 200.000 ₫ reached)"},
	} {
		got := exitText(&c.j, c.full, c.transfer, c.capped)
		if got.VI != c.vi || got.EN != c.en {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
}

func TestAssertionReason(t *testing.T) {
	for err, want := range map[error]proto.Reason{
		identity.ErrAssertionExpired:     proto.ReasonAssertionExpired,
		identity.ErrAssertionNotYetValid: proto.ReasonAssertionNotYetValid,
		identity.ErrAssertionWrongDevice: proto.ReasonAssertionWrongDevice,
		identity.ErrAssertionReplayed:    proto.ReasonAssertionReplayed,
		identity.ErrAssertionInvalid:     proto.ReasonAssertionInvalid,
		fmt.Errorf("jwks down"):          proto.ReasonAssertionInvalid,
	} {
		if got := assertionReason(fmt.Errorf("vneid: %w", err)); got != want {
			t.Errorf("%v: %s, want %s", err, got, want)
		}
	}
}
