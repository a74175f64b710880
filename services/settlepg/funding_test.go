package settlepg_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/settlepg"
)

// A post-paid rider travels with no balance; the day's fares are collected
// in one debit; a declined debit puts the account in debt and, over the
// limit, entry is refused (exits still open) until the debt is paid.
func TestPostpaidDebtAndRecovery(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.store.OpenRiderAccount(ctx, "vn_post"); err != nil {
		t.Fatal(err)
	}
	// Prepaid with no balance: no entry.
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_post"), proto.ReasonInsufficientFunds)
	link := settlepg.FundingLink{Subject: "vn_post", Provider: "paysim", Method: "bank", Token: "tok_1", Masked: "•••• 6789",
		ConsentVersion: "postpaid-2026-11", Key: "link-1"}
	if _, err := f.store.LinkFunding(ctx, settlepg.FundingLink{Subject: "vn_post", Key: "x"}, true); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("link without consent: %v", err)
	}
	l, err := f.store.LinkFunding(ctx, link, true)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := f.store.LinkFunding(ctx, link, true); !errors.Is(err, ledger.ErrDuplicate) || again.ID != l.ID {
		t.Errorf("repeated link: %+v %v", again, err)
	}
	other := link
	other.Key = "link-2"
	if _, err := f.store.LinkFunding(ctx, other, true); !errors.Is(err, settlepg.ErrAlreadyLinked) {
		t.Errorf("second live link: %v", err)
	}
	// Post-paid: journeys on credit over two days (the first capped at
	// the day pass price).
	for i := 0; i < 4; i++ {
		if i == 3 {
			f.now = f.now.Add(24 * time.Hour)
		}
		want(t, f.do(proto.KindMetroEntry, catLinh, "vn_post"), proto.ReasonOK)
		want(t, f.do(proto.KindMetroExit, yen, "vn_post"), proto.ReasonOK)
	}
	owed := f.balance("vn_post").Neg()
	if !owed.IsPositive() {
		t.Fatalf("owes %s after three journeys", owed)
	}
	if _, err := f.store.UnlinkFunding(ctx, "vn_post", "test"); !errors.Is(err, settlepg.ErrOwes) {
		t.Errorf("unlink while owing: %v", err)
	}
	day := f.now
	n, err := f.store.PlanCollections(ctx, day)
	if err != nil || n != 1 {
		t.Fatalf("planned %d (%v)", n, err)
	}
	if n, _ := f.store.PlanCollections(ctx, day); n != 0 {
		t.Errorf("planning the day again made %d more", n)
	}
	pend, err := f.store.PendingCollections(ctx, 10)
	if err != nil || len(pend) != 1 || !pend[0].Amount.Equal(owed) || pend[0].Token != "tok_1" {
		t.Fatalf("pending %+v %v", pend, err)
	}
	// Unknown outcome: still pending; the next day's plan does not ask
	// for the same money again.
	if err := f.store.CollectionAttempted(ctx, pend[0].Key); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.store.PlanCollections(ctx, day.Add(24*time.Hour)); n != 0 {
		t.Errorf("a second debit was planned while the first is pending: %d", n)
	}
	if err := f.store.CompleteCollection(ctx, pend[0].Key, false, "ref-1", "insufficient_funds"); err != nil {
		t.Fatal(err)
	}
	// Declined, over the 30.000 ₫ limit: entry refused with the amount,
	// in Vietnamese and English.
	d := f.do(proto.KindMetroEntry, catLinh, "vn_post")
	want(t, d, proto.ReasonInDebt)
	if d.Display.VI != "Tài khoản còn nợ "+money.Format(owed)+", vui lòng thanh toán trên ứng dụng" {
		t.Errorf("gate text %q", d.Display.VI)
	}
	if dl, err := f.store.DenyList(ctx, money.Dong(30000)); err != nil || len(dl) != 1 || dl[0] != "vn_post" {
		t.Errorf("deny list %v %v", dl, err)
	}
	if dl, _ := f.store.DenyList(ctx, money.Dong(100000)); len(dl) != 0 {
		t.Errorf("deny list over a higher limit %v", dl)
	}
	fs, err := f.store.AccountFunding(ctx, "vn_post")
	if err != nil || fs.DebtSince.IsZero() || !fs.Owed.Equal(owed) {
		t.Errorf("funding %+v %v", fs, err)
	}
	// The rider pays: a recovery debit of everything owed, approved.
	col, err := f.store.StartRecovery(ctx, "vn_post", "pay-1")
	if err != nil || !col.Amount.Equal(owed) {
		t.Fatalf("recovery %+v %v", col, err)
	}
	if err := f.store.CompleteCollection(ctx, col.Key, true, "ref-2", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.store.CompleteCollection(ctx, col.Key, true, "ref-2", ""); err != nil {
		t.Fatal(err) // a repeated answer changes nothing
	}
	if got := f.balance("vn_post"); !got.IsZero() {
		t.Errorf("balance %s after paying the debt", got)
	}
	if _, err := f.store.StartRecovery(ctx, "vn_post", "pay-2"); !errors.Is(err, settlepg.ErrNothingOwed) {
		t.Errorf("recovery with nothing owed: %v", err)
	}
	if dl, _ := f.store.DenyList(ctx, money.Dong(30000)); len(dl) != 0 {
		t.Errorf("deny list after paying %v", dl)
	}
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_post"), proto.ReasonOK)
	want(t, f.do(proto.KindMetroExit, laThanh, "vn_post"), proto.ReasonOK)
	rec, err := f.store.Reconcile(ctx, f.now, map[string][]settlepg.ProviderSettlement{
		"paysim": {{Key: col.Key, Ref: "ref-2", Amount: owed}},
	})
	if err != nil || !rec.OK() || rec.Providers["paysim"] != 1 {
		t.Errorf("reconciliation %+v %v", rec, err)
	}
	rec, _ = f.store.Reconcile(ctx, f.now, map[string][]settlepg.ProviderSettlement{"paysim": {}})
	if rec.OK() || rec.Differences[0].Check != "provider_missing" {
		t.Errorf("a debit the provider did not report went unnoticed: %+v", rec.Differences)
	}
	f.checkBooks()
}
