package dispute_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/dispute"
)

var at = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

func TestNew(t *testing.T) {
	fifteen := decimal.NewFromInt(15000)
	for _, c := range []struct {
		name    string
		kind    dispute.Kind
		charge  int64
		charged decimal.Decimal
		reason  string
		want    error
	}{
		{"journey", dispute.KindJourney, 7, fifteen, "I tapped out at Hà Đông", nil},
		{"parking", dispute.KindParking, 7, fifteen, "barrier was open", nil},
		{"unknown kind", "bus", 7, fifteen, "why", dispute.ErrInvalid},
		{"no charge id", dispute.KindJourney, 0, fifteen, "why", dispute.ErrInvalid},
		{"free journey", dispute.KindJourney, 7, decimal.Zero, "why", dispute.ErrNotDisputable},
		{"reason too short", dispute.KindJourney, 7, fifteen, " x ", dispute.ErrInvalid},
		{"reason too long", dispute.KindJourney, 7, fifteen, string(make([]rune, 501)), dispute.ErrInvalid},
	} {
		d, err := dispute.New("vn_a", c.kind, c.charge, c.charged, c.reason, at)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		if err == nil && (d.Status != dispute.StatusOpen || len(d.Events) != 1 || d.Events[0].By != "rider:vn_a") {
			t.Errorf("%s: %+v", c.name, d)
		}
	}
}

func TestResolve(t *testing.T) {
	open := func() dispute.Dispute {
		d, err := dispute.New("vn_a", dispute.KindJourney, 7, decimal.NewFromInt(15000), "tapped out", at)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := open()
	if err := d.Refunded(decimal.NewFromInt(16000), 9, "ok", "operator:lan", at); !errors.Is(err, dispute.ErrInvalid) {
		t.Errorf("refund above the charge: %v", err)
	}
	if err := d.Refunded(decimal.NewFromInt(13000), 9, "CCTV shows the exit", "operator:lan", at); err != nil {
		t.Fatal(err)
	}
	if d.Status != dispute.StatusRefunded || len(d.Events) != 2 || d.Events[1].By != "operator:lan" || d.RefundTxID != 9 {
		t.Errorf("refunded: %+v", d)
	}
	if err := d.Rejected("no", "operator:lan", at); !errors.Is(err, dispute.ErrResolved) {
		t.Errorf("rejected after a refund: %v", err)
	}
	d = open()
	if err := d.Rejected("  ", "operator:lan", at); !errors.Is(err, dispute.ErrInvalid) {
		t.Errorf("rejected without a reason: %v", err)
	}
	if err := d.Rejected("the gate log shows no exit", "operator:lan", at); err != nil || d.Status != dispute.StatusRejected {
		t.Errorf("rejected: %v %+v", err, d)
	}
	if err := d.Refunded(decimal.NewFromInt(1), 9, "ok then", "operator:lan", at); !errors.Is(err, dispute.ErrResolved) {
		t.Errorf("refunded after a rejection: %v", err)
	}
}
