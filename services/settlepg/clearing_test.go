package settlepg_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/settlepg"
)

// hanoiTwoOperators is the shipped Hanoi data with Line 3 run by another
// operator than Line 2A, as a city may tender it.
func hanoiTwoOperators(t *testing.T) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(fare.HanoiData(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fare.HanoiData(), path)
		if path == "networks.txt" {
			b = []byte(strings.Replace(string(b), "hn3,Tuyến 3 Nhổn - ga Hà Nội,hanoi-metro", "hn3,Tuyến 3 Nhổn - ga Hà Nội,line3-co", 1))
			if !strings.Contains(string(b), "line3-co") {
				t.Fatal("networks.txt changed: cannot give Line 3 its own operator")
			}
		}
		m[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func operatorBalance(f *fixture, op string) decimal.Decimal {
	f.t.Helper()
	a, err := f.store.Account(context.Background(), ledger.OperatorRevenue(op))
	if err != nil {
		return decimal.Zero
	}
	return a.Balance
}

// A transfer journey over two operators' lines: the rider pays the transfer
// price, and what they paid for both legs is shared by the legs' own fares.
// The daily clearing report equals the ledger, and reconciliation finds
// nothing to report until a journey's fare is changed behind its back.
func TestTransferClearingAndReconciliation(t *testing.T) {
	f := newFixtureWith(t, hanoiTwoOperators(t))
	ctx := context.Background()
	f.topUp("vn_clear", 100000)
	want(t, f.do(proto.KindMetroEntry, yen, "vn_clear"), proto.ReasonOK)
	first := f.do(proto.KindMetroExit, catLinh, "vn_clear")
	want(t, f.do(proto.KindMetroEntry, "hn3-cat-linh", "vn_clear"), proto.ReasonOK)
	second := f.do(proto.KindMetroExit, "hn3-nhon", "vn_clear")
	legA, _ := f.fares.Price(yen, catLinh)
	legB, _ := f.fares.Price("hn3-cat-linh", "hn3-nhon")
	paid := *first.FareVND + *second.FareVND
	if paid >= legA.Amount.Add(legB.Amount).IntPart() {
		t.Fatalf("no transfer discount: paid %d for legs %s + %s", paid, legA.Amount, legB.Amount)
	}
	total := decimal.NewFromInt(paid)
	shareA := total.Mul(legA.Amount).Div(legA.Amount.Add(legB.Amount)).Floor()
	if got := operatorBalance(f, "hanoi-metro"); !got.Equal(shareA) {
		t.Errorf("Line 2A operator holds %s, want its share %s of %s", got, shareA, total)
	}
	if got := operatorBalance(f, "line3-co"); !got.Equal(total.Sub(shareA)) {
		t.Errorf("Line 3 operator holds %s, want %s", got, total.Sub(shareA))
	}
	f.checkBooks()

	report, err := f.store.Clearing(ctx, f.now)
	if err != nil {
		t.Fatal(err)
	}
	sum := decimal.Zero
	for _, c := range report {
		if !c.Balanced() || !c.Other.IsZero() {
			t.Errorf("clearing %+v does not equal the ledger", c)
		}
		sum = sum.Add(c.Total)
	}
	if len(report) != 2 || !sum.Equal(total) {
		t.Errorf("clearing report %+v, want two operators sharing %s", report, total)
	}

	rec, err := f.store.Reconcile(ctx, f.now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.OK() || rec.JourneysPriced != 2 || rec.FarePostings != 2 || rec.ExitsOpened != 2 || rec.EntriesOpened != 2 {
		t.Errorf("reconciliation: %+v", rec)
	}
	// A fare changed in the journeys table without a ledger movement is
	// found and named.
	if _, err := f.store.Pool().Exec(ctx, "UPDATE journeys SET fare = fare + 1000 WHERE exit_site = 'hn3-nhon'"); err != nil {
		t.Fatal(err)
	}
	rec, err = f.store.Reconcile(ctx, f.now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.OK() || rec.Differences[0].Check != "journey_ledger" {
		t.Errorf("tampered fare not reported: %+v", rec.Differences)
	}
}

// Operators correct fares and refund journeys with a reason and their
// identity; the rider's history shows both, idempotently.
func TestCorrectionsAndRefundsInHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.topUp("vn_corr", 100000)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_corr"), proto.ReasonOK)
	// No exit tap: the next entry, hours later, closes it at the maximum fare.
	f.now = f.now.Add(5 * 60 * 60 * 1e9)
	want(t, f.do(proto.KindMetroEntry, laThanh, "vn_corr"), proto.ReasonOK)
	var id int64
	var charged decimal.Decimal
	if err := f.store.Pool().QueryRow(ctx, "SELECT id, fare FROM journeys WHERE subject = 'vn_corr' AND status = 'incomplete'").Scan(&id, &charged); err != nil {
		t.Fatal(err)
	}
	q, _ := f.fares.Price(catLinh, laThanh)
	c := settlepg.Correction{JourneyID: id, NewFare: q.Amount, ExitSite: laThanh, Reason: "camera shows exit at La Thành",
		By: "op:nguyen.lan", Key: "ticket-4711", FareRule: q.RuleID}
	txID, err := f.store.CorrectJourney(ctx, c)
	if err != nil || txID == 0 {
		t.Fatalf("correction: %d %v", txID, err)
	}
	if again, err := f.store.CorrectJourney(ctx, c); !errors.Is(err, ledger.ErrDuplicate) || again != txID {
		t.Errorf("repeated correction: %d %v", again, err)
	}
	if _, err := f.store.CorrectJourney(ctx, settlepg.Correction{JourneyID: id, NewFare: q.Amount, Key: "x"}); !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("correction without reason or author: %v", err)
	}
	if _, err := f.store.RefundJourney(ctx, id, money.Dong(1000), "gate fault", "op:tran.minh", "r1"); err != nil {
		t.Fatal(err)
	}
	wantBal := money.Dong(100000).Sub(q.Amount).Add(money.Dong(1000))
	if got := f.balance("vn_corr"); !got.Equal(wantBal) {
		t.Errorf("balance %s, want %s", got, wantBal)
	}
	h, err := f.store.History(ctx, "vn_corr", 10)
	if err != nil {
		t.Fatal(err)
	}
	kinds := ""
	for _, p := range h {
		kinds += p.Kind + "(" + p.Amount.String() + ":" + p.Memo + ") "
	}
	if !strings.Contains(kinds, "fare_correction("+charged.Sub(q.Amount).String()+":camera shows exit at La Thành (by op:nguyen.lan))") ||
		!strings.Contains(kinds, "refund(1000:gate fault (by op:tran.minh))") {
		t.Errorf("history: %s", kinds)
	}
	rec, err := f.store.Reconcile(ctx, f.now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.OK() {
		t.Errorf("reconciliation after a correction: %v", rec.Differences)
	}
	f.checkBooks()
}
