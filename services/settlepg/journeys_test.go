package settlepg_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/settlepg"
)

// journeysOf lists a rider's journeys, oldest first, as the store reads
// them back one by one.
func (f *fixture) journeysOf(subject string) []admission.Journey {
	f.t.Helper()
	ctx := context.Background()
	rows, err := f.store.Pool().Query(ctx, "SELECT id FROM journeys WHERE subject = $1 ORDER BY id", subject)
	if err != nil {
		f.t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			f.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	var out []admission.Journey
	for _, id := range ids {
		j, err := f.store.Journey(ctx, id)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

func (f *fixture) postings(id int64) []explain.Posting {
	f.t.Helper()
	ps, err := f.store.FarePostings(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return ps
}

func wantPostings(t *testing.T, got []explain.Posting, want ...explain.Posting) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d postings %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Kind != w.Kind || g.Key != w.Key || g.AmountVND != w.AmountVND || !g.Amount.Equal(w.Amount) || g.TransactionID == 0 || g.PostedAt == "" {
			t.Errorf("posting %d: %+v, want %s %s %d", i, g, w.Kind, w.Key, w.AmountVND)
		}
	}
}

func posting(kind, key string, dong int64) explain.Posting {
	return explain.Posting{Kind: kind, Key: key, Amount: money.Dong(dong), AmountVND: dong}
}

// The third Cát Linh -> Hà Đông trip of the day (13.000 each) crosses the
// daily cap (30.000): it is charged 4.000, and the journey says why.
func TestJourneyReadsCapAndCharge(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_cap", 100000)
	var exits []proto.Decision
	for i := 0; i < 3; i++ {
		want(t, f.do(proto.KindMetroEntry, catLinh, "vn_cap"), proto.ReasonOK)
		exits = append(exits, f.do(proto.KindMetroExit, haDong, "vn_cap"))
	}
	js := f.journeysOf("vn_cap")
	if len(js) != 3 {
		t.Fatalf("%d journeys", len(js))
	}
	j := js[2]
	if j.Subject != "vn_cap" || j.NetworkID != "hn2a" || j.OperatorID != "hanoi-metro" || j.Status != admission.JourneyClosed ||
		j.EntrySite != catLinh || j.ExitSite != haDong || j.ExitEvent != exits[2].EventID || j.EntryAt.IsZero() || !j.ExitAt.After(j.EntryAt) ||
		!j.Fare.Equal(money.Dong(4000)) || !j.FullFare.Equal(money.Dong(13000)) || j.FareRule != "fare_leg_rules.txt:9" ||
		j.Cap != "day" || j.CapRule != "fare_products.txt:58" || j.Category != "adult" || j.TransferRule != "" || j.PassID != 0 {
		t.Errorf("capped journey read back as %+v", j)
	}
	ps := f.postings(j.ID)
	wantPostings(t, ps, posting(explain.KindFare, "fare:"+exits[2].EventID, 4000))

	r := explain.Journey(f.fares, j, ps)
	wantLines(t, r.Explanation.VI,
		"Giá vé Cát Linh → Hà Đông: 13.000 ₫ (fare_leg_rules.txt:9)",
		"Hạng hành khách: adult (fare_products.txt:37)",
		"Đã áp dụng mức trần ngày 30.000 ₫: thu 4.000 ₫ thay vì 13.000 ₫ (fare_products.txt:58)",
		"Đã thu 4.000 ₫ (giao dịch sổ cái #"+itoa(ps[0].TransactionID)+")")
}

// An entry never tapped out is swept to the maximum fare, keyed by its
// entry; another that gets its exit late is repriced and refunded. An open
// journey reads with no exit and no fare; an exit without entry has no
// entry.
func TestJourneyReadsMissingTapsAndCorrections(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, s := range []string{"vn_gone", "vn_late", "vn_open", "vn_noentry"} {
		f.topUp(s, 100000)
	}
	gone := f.do(proto.KindMetroEntry, catLinh, "vn_gone")
	late := f.do(proto.KindMetroEntry, catLinh, "vn_late")
	entered := f.now
	f.now = entered.Add(5 * time.Hour)
	if n, err := f.proc.Sweep(ctx); err != nil || n != 2 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	f.now = entered.Add(time.Hour) // the late exit's capture time
	lateExit := f.do(proto.KindMetroExit, laThanh, "vn_late")
	f.now = entered.Add(6 * time.Hour)
	want(t, f.do(proto.KindMetroEntry, yen, "vn_open"), proto.ReasonOK)
	noEntry := f.do(proto.KindMetroExit, haDong, "vn_noentry")

	j := f.journeysOf("vn_gone")[0]
	if j.Status != admission.JourneyIncomplete || j.FareRule != admission.RuleMissingExit || j.ExitSite != "" || j.ExitEvent != "" ||
		!j.Fare.Equal(money.Dong(15000)) || !j.FullFare.Equal(money.Dong(15000)) || j.Cap != "" || j.EntryEvent != gone.EventID {
		t.Errorf("missing exit read back as %+v", j)
	}
	ps := f.postings(j.ID)
	wantPostings(t, ps, posting(explain.KindFare, "fare:missing-exit:"+gone.EventID, 15000))
	r := explain.Journey(f.fares, j, ps)
	wantLines(t, r.Explanation.EN,
		"No exit tap: maximum fare 15.000 ₫ (missing-exit-max-fare)",
		"Entered Cát Linh at 14:31 on 2026-11-24 and tapped out nowhere within the longest journey time",
		"Rider category: adult",
		"Charged 15.000 ₫ (ledger transaction #"+itoa(ps[0].TransactionID)+")")

	j = f.journeysOf("vn_late")[0]
	if j.Status != admission.JourneyClosed || j.FareRule != "fare_leg_rules.txt:2" || j.ExitEvent != lateExit.EventID || !j.Fare.Equal(money.Dong(8000)) {
		t.Errorf("late exit read back as %+v", j)
	}
	ps = f.postings(j.ID)
	wantPostings(t, ps,
		posting(explain.KindFare, "fare:missing-exit:"+late.EventID, 15000),
		posting(explain.KindFareCorrection, "fare-correction:"+lateExit.EventID, -7000))
	r = explain.Journey(f.fares, j, ps)
	if n := len(r.Explanation.VI); n < 3 || r.Explanation.VI[n-1] != "Tổng đã thu: 8.000 ₫" || r.Explanation.VI[n-2] != "Hoàn lại 7.000 ₫ (giao dịch sổ cái #"+itoa(ps[1].TransactionID)+")" {
		t.Errorf("late exit explained as %q", r.Explanation.VI)
	}

	j = f.journeysOf("vn_open")[0]
	if j.Status != admission.JourneyOpen || j.ExitSite != "" || !j.ExitAt.IsZero() || !j.Fare.IsZero() || !j.FullFare.IsZero() || j.FareRule != "" {
		t.Errorf("open journey read back as %+v", j)
	}
	if ps := f.postings(j.ID); len(ps) != 0 {
		t.Errorf("open journey has postings %+v", ps)
	}

	j = f.journeysOf("vn_noentry")[0]
	if j.FareRule != admission.RuleMissingEntry || j.EntrySite != "" || j.EntryEvent != "" || !j.EntryAt.IsZero() || j.ExitSite != haDong {
		t.Errorf("missing entry read back as %+v", j)
	}
	wantPostings(t, f.postings(j.ID), posting(explain.KindFare, "fare:"+noEntry.EventID, 15000))

	if _, err := f.store.Journey(ctx, 999999); !errors.Is(err, settlepg.ErrNoJourney) || !errors.Is(err, explain.ErrNoJourney) {
		t.Errorf("unknown journey: %v", err)
	}
	if _, err := f.store.FarePostings(ctx, 999999); !errors.Is(err, explain.ErrNoJourney) {
		t.Errorf("postings of an unknown journey: %v", err)
	}
}

// A journey a pass paid for names the pass and moved no money.
func TestJourneyReadsItsPass(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.topUp("vn_pass", 100000)
	day, err := f.fares.NewPass("hn2a-day", "", f.now)
	if err != nil {
		t.Fatal(err)
	}
	pay, _ := ledger.Transfer("pass:vn_pass:d1", "pass", day.ProductID, ledger.Rider("vn_pass"), ledger.OperatorRevenue("hanoi-metro"), day.Amount)
	passID, err := f.store.BuyPass(ctx, "vn_pass", day, pay)
	if err != nil {
		t.Fatal(err)
	}
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_pass"), proto.ReasonOK)
	want(t, f.do(proto.KindMetroExit, yen, "vn_pass"), proto.ReasonOK)
	j := f.journeysOf("vn_pass")[0]
	if j.PassID != passID || !j.Fare.IsZero() || !j.FullFare.Equal(money.Dong(15000)) {
		t.Errorf("journey on a pass read back as %+v", j)
	}
	ps := f.postings(j.ID)
	wantPostings(t, ps)
	r := explain.Journey(f.fares, j, ps)
	wantLines(t, r.Explanation.EN,
		"Fare Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
		"Rider category: adult (fare_products.txt:51)",
		"Travelling on pass #"+itoa(passID)+": nothing charged")
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("lines:\n got %q\nwant %q", got, want)
		return
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}

func itoa(n int64) string { return money.Dong(n).String() }
