package settlepg_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/settlepg"
)

// TestRiderViews: a rider's journeys by date range and page, passes held,
// history by page, and monthly statements whose totals equal the ledger:
// every line is a ledger entry of the rider's, each kind's total equals a
// plain sum of those entries, one month's closing balance is the next
// month's opening, and the last closing is the account's balance.
func TestRiderViews(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.now = time.Date(2026, 10, 30, 1, 0, 0, 0, time.UTC) // 08:00 on 30 Oct, local
	f.topUp("vn_view", 200000)
	f.topUp("vn_other", 50000)
	ride := func(sub, from, to string) {
		want(t, f.do(proto.KindMetroEntry, from, sub), proto.ReasonOK)
		want(t, f.do(proto.KindMetroExit, to, sub), proto.ReasonOK)
	}
	ride("vn_view", catLinh, haDong) // October
	ride("vn_other", catLinh, yen)
	f.now = time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC)
	ride("vn_view", haDong, catLinh) // November
	ride("vn_view", catLinh, yen)
	// A missed exit, swept to the maximum fare, then part refunded.
	want(t, f.do(proto.KindMetroEntry, laThanh, "vn_view"), proto.ReasonOK)
	f.now = f.now.Add(5 * time.Hour)
	if n, err := f.proc.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	js, err := f.store.RiderJourneys(ctx, settlepg.JourneyFilter{Subject: "vn_view"})
	if err != nil || len(js) != 4 {
		t.Fatalf("journeys: %d %v", len(js), err)
	}
	for i, j := range js {
		if j.Subject != "vn_view" || (i > 0 && j.ID >= js[i-1].ID) {
			t.Errorf("journey %d: %+v", i, j)
		}
	}
	if _, err := f.store.RefundJourney(ctx, js[0].ID, money.Dong(5000), "gate fault", "operator:an", "t1"); err != nil {
		t.Fatal(err)
	}
	ids := []int64{js[0].ID, js[1].ID}
	other, _ := f.store.RiderJourneys(ctx, settlepg.JourneyFilter{Subject: "vn_other"})
	batch, err := f.store.RiderFarePostings(ctx, "vn_view", append(ids, other[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		one := f.postings(id)
		if fmt.Sprint(batch[id]) != fmt.Sprint(one) || len(one) == 0 {
			t.Errorf("journey %d: batched %+v, one by one %+v", id, batch[id], one)
		}
	}
	if len(batch[other[0].ID]) != 0 || len(batch[js[0].ID]) != 2 {
		t.Errorf("batched postings: %+v", batch)
	}
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, fare.Zone)
	dec := nov.AddDate(0, 1, 0)
	inNov, _ := f.store.RiderJourneys(ctx, settlepg.JourneyFilter{Subject: "vn_view", From: nov, To: dec})
	inOct, _ := f.store.RiderJourneys(ctx, settlepg.JourneyFilter{Subject: "vn_view", To: nov})
	if len(inNov) != 3 || len(inOct) != 1 || inOct[0].ExitSite != haDong {
		t.Errorf("by month: %d in November, %d in October", len(inNov), len(inOct))
	}
	page1, _ := f.store.RiderJourneys(ctx, settlepg.JourneyFilter{Subject: "vn_view", Limit: 3})
	page2, _ := f.store.RiderJourneys(ctx, settlepg.JourneyFilter{Subject: "vn_view", Limit: 3, Before: page1[2].ID})
	if len(page1) != 3 || len(page2) != 1 || page2[0].ID != js[3].ID {
		t.Errorf("pages: %d then %d", len(page1), len(page2))
	}

	// A day pass bought with the balance.
	pass, err := f.fares.NewPass("hn2a-day", "", f.now)
	if err != nil {
		t.Fatal(err)
	}
	pay, _ := ledger.Transfer("pass:vn_view:p1", "pass", pass.ProductID, ledger.Rider("vn_view"), ledger.OperatorRevenue("hanoi-metro"), pass.Amount)
	if _, err := f.store.BuyPass(ctx, "vn_view", pass, pay); err != nil {
		t.Fatal(err)
	}
	ps, err := f.store.RiderPasses(ctx, "vn_view", f.now)
	if err != nil || len(ps) != 1 || ps[0].ProductID != "hn2a-day" || !ps[0].ValidUntil.After(f.now) {
		t.Errorf("passes: %+v %v", ps, err)
	}
	if ps, _ := f.store.RiderPasses(ctx, "vn_view", f.now.AddDate(0, 0, 3)); len(ps) != 0 {
		t.Errorf("an expired pass is listed: %+v", ps)
	}
	if ps, _ := f.store.RiderPasses(ctx, "vn_other", time.Time{}); len(ps) != 0 {
		t.Errorf("another rider's passes: %+v", ps)
	}

	h1, _ := f.store.HistoryBefore(ctx, "vn_view", 0, 4)
	h2, _ := f.store.HistoryBefore(ctx, "vn_view", h1[3].TransactionID, 50)
	all, _ := f.store.History(ctx, "vn_view", 100)
	if len(h1)+len(h2) != len(all) || h2[0].TransactionID >= h1[3].TransactionID {
		t.Errorf("history pages %d + %d, want %d", len(h1), len(h2), len(all))
	}

	// Statements: October, November, December (empty).
	oct := time.Date(2026, 10, 1, 0, 0, 0, 0, fare.Zone)
	opening := decimal.Zero
	for _, from := range []time.Time{oct, nov, dec} {
		to := from.AddDate(0, 1, 0)
		st, err := f.store.Statement(ctx, "vn_view", from, to)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Opening.Equal(opening) {
			t.Errorf("%s: opening %s, want the last closing %s", from.Format("2006-01"), st.Opening, opening)
		}
		opening = st.Closing
		for kind, total := range st.ByKind {
			var sum decimal.Decimal
			if err := f.store.Pool().QueryRow(ctx, `SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
				JOIN ledger_transactions t ON t.id = e.transaction_id
				WHERE e.account_id = 'rider:vn_view' AND t.kind = $1 AND t.created_at >= $2 AND t.created_at < $3`,
				kind, from, to).Scan(&sum); err != nil {
				t.Fatal(err)
			}
			if !sum.Equal(total) {
				t.Errorf("%s %s: statement %s, ledger %s", from.Format("2006-01"), kind, total, sum)
			}
		}
		var n int
		f.store.Pool().QueryRow(ctx, `SELECT count(*) FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
			WHERE e.account_id = 'rider:vn_view' AND t.created_at >= $1 AND t.created_at < $2`, from, to).Scan(&n)
		if n != len(st.Lines) {
			t.Errorf("%s: %d lines, the ledger has %d entries", from.Format("2006-01"), len(st.Lines), n)
		}
		switch from {
		case oct:
			q, _ := f.fares.Price(catLinh, haDong)
			if !st.ByKind["topup"].Equal(money.Dong(200000)) || !st.ByKind["fare"].Equal(q.Amount.Neg()) {
				t.Errorf("October: %+v", st.ByKind)
			}
		case nov:
			if !st.ByKind["refund"].Equal(money.Dong(5000)) || !st.ByKind["pass"].Equal(pass.Amount.Neg()) || len(st.Lines) != 5 {
				t.Errorf("November: %+v, %d lines", st.ByKind, len(st.Lines))
			}
		}
	}
	if bal := f.balance("vn_view"); !opening.Equal(bal) {
		t.Errorf("last closing %s, balance %s", opening, bal)
	}
	f.checkBooks()
}
