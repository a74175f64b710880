package settlepg_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/settlepg"
)

// verifier stands in for the VNeID adapter: tokens are "<subject>.<jti>.<device>"
// or "bad.<reason>.x". The real adapter has its own tests against a real JWKS.
type verifier struct{ now func() time.Time }

func (v verifier) Verify(_ context.Context, token, device string) (identity.Assertion, error) {
	p := strings.Split(token, ".")
	switch {
	case p[0] == "forged":
		return identity.Assertion{}, identity.ErrAssertionInvalid
	case p[0] == "expired":
		return identity.Assertion{}, identity.ErrAssertionExpired
	case p[2] != device:
		return identity.Assertion{}, identity.ErrAssertionWrongDevice
	}
	a := identity.Assertion{Subject: p[0], JTI: p[1], Audience: device, ExpiresAt: v.now().Add(time.Minute), Level: 2, Age: 30}
	switch {
	case strings.HasPrefix(p[0], "senior_"):
		a.Age = 67
	case strings.HasPrefix(p[0], "child_"):
		a.Age = 4
	case strings.HasPrefix(p[0], "dis_"):
		a.Disabled = true
	}
	return a, nil
}

type fixture struct {
	t     *testing.T
	store *settlepg.Store
	proc  *admission.Processor
	fares *fare.Table
	now   time.Time
	n     int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, fare.HanoiData())
}

// newFixtureWith is newFixture on other fare data.
func newFixtureWith(t *testing.T, data fs.FS) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, now: time.Date(2026, 11, 24, 7, 30, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	s, err := settlepg.Open(ctx, testenv.PostgresURL(t), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	fares, err := fare.LoadGTFS(data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := admission.New(admission.Config{Verifier: verifier{clock}, Fares: fares, Store: s, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.store, f.proc, f.fares = s, p, fares
	return f
}

func (f *fixture) topUp(subject string, dong int64) {
	f.t.Helper()
	ctx := context.Background()
	if _, err := f.store.OpenRiderAccount(ctx, subject); err != nil {
		f.t.Fatal(err)
	}
	tx, err := ledger.Transfer("topup:"+subject+":"+decimal.NewFromInt(dong).String(), "topup", "",
		ledger.ProviderSettlement("sim"), ledger.Rider(subject), money.Dong(dong))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.Post(ctx, tx); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) tap(kind proto.Kind, site, token string) (proto.Tap, []byte) {
	f.t.Helper()
	f.n++
	f.now = f.now.Add(time.Minute)
	device := site + "-g01"
	if token != "" && !strings.Contains(token, ".") {
		token = token + ".jti" + decimal.NewFromInt(int64(f.n)).String() + "." + device
	}
	t := proto.Tap{EventID: proto.NewEventID(f.now), Device: device, Site: site, Kind: kind, Assertion: token, CapturedAt: proto.At(f.now)}
	b, err := t.Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	return t, b
}

func (f *fixture) handle(t proto.Tap, payload []byte) (proto.Decision, admission.Reply) {
	f.t.Helper()
	r, err := f.proc.Handle(context.Background(), proto.Topics{}.Taps(t.Site, t.Device), payload)
	if err != nil {
		f.t.Fatal(err)
	}
	d, err := proto.DecodeDecision(r.Payload)
	if err != nil {
		f.t.Fatal(err)
	}
	if d.EventID != t.EventID {
		f.t.Fatalf("decision for %s, want %s", d.EventID, t.EventID)
	}
	return d, r
}

func (f *fixture) do(kind proto.Kind, site, token string) proto.Decision {
	f.t.Helper()
	d, _ := f.handle(f.tap(kind, site, token))
	return d
}

func (f *fixture) balance(subject string) decimal.Decimal {
	f.t.Helper()
	a, err := f.store.Account(context.Background(), ledger.Rider(subject))
	if err != nil {
		f.t.Fatal(err)
	}
	return a.Balance
}

func (f *fixture) checkBooks() {
	f.t.Helper()
	b, err := f.store.Books(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	if !b.Balanced() {
		f.t.Errorf("books out of balance: %+v", b)
	}
}

func want(t *testing.T, d proto.Decision, reason proto.Reason) {
	t.Helper()
	if d.Reason != reason || d.Open != (reason == proto.ReasonOK) {
		t.Fatalf("decision %s (open=%v, %q), want %s", d.Reason, d.Open, d.Display.EN, reason)
	}
}

const (
	catLinh = "hn2a-cat-linh"
	laThanh = "hn2a-la-thanh"
	haDong  = "hn2a-ha-dong"
	yen     = "hn2a-yen-nghia"
)

func TestJourneyChargesTheFare(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_an", 100000)
	d := f.do(proto.KindMetroEntry, catLinh, "vn_an")
	want(t, d, proto.ReasonOK)
	if d.FareVND != nil || *d.BalanceVND != 100000 {
		t.Errorf("entry decision = %+v", d)
	}
	d = f.do(proto.KindMetroExit, yen, "vn_an")
	want(t, d, proto.ReasonOK)
	if *d.FareVND != 15000 || *d.BalanceVND != 85000 {
		t.Errorf("end-to-end fare %d, balance %d; want 15000, 85000", *d.FareVND, *d.BalanceVND)
	}
	if !strings.Contains(d.Display.VI, "Phí 15.000 ₫") || !strings.Contains(d.Display.EN, "Balance 85.000 ₫") {
		t.Errorf("display %+v", d.Display)
	}
	want(t, f.do(proto.KindMetroEntry, laThanh, "vn_an"), proto.ReasonOK)
	d = f.do(proto.KindMetroExit, catLinh, "vn_an")
	if *d.FareVND != 8000 || *d.BalanceVND != 77000 {
		t.Errorf("adjacent fare %d, balance %d; want 8000, 77000", *d.FareVND, *d.BalanceVND)
	}
	if got := f.balance("vn_an"); !got.Equal(money.Dong(77000)) {
		t.Errorf("stored balance %s", got)
	}
	f.checkBooks()
}

func TestRedeliveredTapChargesOnce(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_binh", 50000)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_binh"), proto.ReasonOK)
	tap, payload := f.tap(proto.KindMetroExit, haDong, "vn_binh")
	first, r1 := f.handle(tap, payload)
	want(t, first, proto.ReasonOK)
	if r1.Dup {
		t.Error("first delivery marked duplicate")
	}
	// Redelivered, also concurrently, as QoS 1 and two replicas may do.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.proc.Handle(context.Background(), proto.Topics{}.Taps(tap.Site, tap.Device), payload)
			if err != nil {
				t.Error(err)
				return
			}
			if !r.Dup || string(r.Payload) != string(r1.Payload) {
				t.Errorf("redelivery: dup=%v payload %s", r.Dup, r.Payload)
			}
		}()
	}
	wg.Wait()
	if got, exp := f.balance("vn_binh"), money.Dong(50000).Sub(decimal.NewFromInt(*first.FareVND)); !got.Equal(exp) {
		t.Errorf("balance %s, want %s", got, exp)
	}
	f.checkBooks()
}

func TestConcurrentFirstDeliveriesChargeOnce(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_cuong", 50000)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_cuong"), proto.ReasonOK)
	tap, payload := f.tap(proto.KindMetroExit, haDong, "vn_cuong")
	var wg sync.WaitGroup
	dups := make(chan bool, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.proc.Handle(context.Background(), proto.Topics{}.Taps(tap.Site, tap.Device), payload)
			if err != nil {
				t.Error(err)
				return
			}
			dups <- r.Dup
		}()
	}
	wg.Wait()
	close(dups)
	firsts := 0
	for d := range dups {
		if !d {
			firsts++
		}
	}
	if firsts != 1 {
		t.Errorf("%d deliveries were decided as new, want 1", firsts)
	}
	q, _ := f.fares.Price(catLinh, haDong)
	if got := f.balance("vn_cuong"); !got.Equal(money.Dong(50000).Sub(q.Amount)) {
		t.Errorf("balance %s after one fare of %s", got, q.Amount)
	}
	f.checkBooks()
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_dung", 100000)
	f.topUp("vn_poor", 5000)

	want(t, f.do(proto.KindMetroEntry, catLinh, "forged.x.y"), proto.ReasonAssertionInvalid)
	want(t, f.do(proto.KindMetroEntry, catLinh, "expired.x.y"), proto.ReasonAssertionExpired)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_dung.j1.some-other-gate"), proto.ReasonAssertionWrongDevice)
	want(t, f.do(proto.KindMetroEntry, "hn2a-nowhere", "vn_dung"), proto.ReasonUnknownSite)
	want(t, f.do(proto.KindParkingEntry, catLinh, "vn_dung"), proto.ReasonWrongKind)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_nobody"), proto.ReasonNoAccount)
	d := f.do(proto.KindMetroEntry, catLinh, "vn_poor")
	want(t, d, proto.ReasonInsufficientFunds)
	if *d.BalanceVND != 5000 || !strings.Contains(d.Display.VI, "Số dư 5.000 ₫") {
		t.Errorf("insufficient funds decision %+v", d)
	}

	// Replay: a second tap with an assertion id already used.
	entry := "vn_dung.jti-once." + catLinh + "-g01"
	want(t, f.do(proto.KindMetroEntry, catLinh, entry), proto.ReasonOK)
	want(t, f.do(proto.KindMetroExit, catLinh, entry), proto.ReasonAssertionReplayed)
	// Purging only drops ids that expired before the cutoff.
	if n, err := f.store.PurgeAssertionUses(context.Background(), f.now.Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("purge before expiry removed %d (%v)", n, err)
	}
	if n, err := f.store.PurgeAssertionUses(context.Background(), f.now.Add(time.Hour)); err != nil || n == 0 {
		t.Errorf("purge after expiry removed %d (%v)", n, err)
	}

	// Pass-back: entering again while inside.
	want(t, f.do(proto.KindMetroEntry, laThanh, "vn_dung"), proto.ReasonPassBack)
	if got := f.balance("vn_dung"); !got.Equal(money.Dong(100000)) {
		t.Errorf("refusals moved money: balance %s", got)
	}
	f.checkBooks()
}

func TestMissingTaps(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_em", 100000)
	stop, _ := f.fares.Stop(laThanh)
	max := f.fares.MaxFare(stop.NetworkID)
	if !max.Equal(money.Dong(15000)) {
		t.Fatalf("max fare %s", max)
	}
	// Exit with no entry: the gate opens, the maximum fare is charged.
	d := f.do(proto.KindMetroExit, laThanh, "vn_em")
	want(t, d, proto.ReasonOK)
	if *d.FareVND != 15000 || *d.BalanceVND != 85000 {
		t.Errorf("missing entry: %+v", d)
	}
	// An entry never tapped out; five hours later the next entry closes it at
	// the maximum fare and opens a new journey.
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_em"), proto.ReasonOK)
	f.now = f.now.Add(5 * time.Hour)
	d = f.do(proto.KindMetroEntry, haDong, "vn_em")
	want(t, d, proto.ReasonOK)
	if *d.BalanceVND != 70000 {
		t.Errorf("balance after missed exit %d, want 70000", *d.BalanceVND)
	}
	f.checkBooks()
}

// A tap that reaches the service after the gate stopped waiting (paho
// re-sends publishes that were in flight when the link dropped) is refused:
// the gate already told the rider no.
func TestStaleTapIsRefused(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_late", 100000)
	tap, payload := f.tap(proto.KindMetroEntry, catLinh, "vn_late")
	f.now = f.now.Add(3 * time.Second)
	d, _ := f.handle(tap, payload)
	want(t, d, proto.ReasonTapTooOld)
	// The rider's next tap, in time, opens: no journey was left open.
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_late"), proto.ReasonOK)
	if got := f.balance("vn_late"); !got.Equal(money.Dong(100000)) {
		t.Errorf("balance %s", got)
	}
}

// tapAt is tap with a capture time offset from the store clock.
func (f *fixture) tapAt(kind proto.Kind, site, token string, offset time.Duration) (proto.Tap, []byte) {
	f.t.Helper()
	t, _ := f.tap(kind, site, token)
	t.CapturedAt = proto.At(f.now.Add(offset))
	b, err := t.Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	return t, b
}

func TestTapTimes(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_clock", 100000)
	// 1.8 s old: the decision would reach a gate that waits 2 s too late.
	d, _ := f.handle(f.tapAt(proto.KindMetroEntry, catLinh, "vn_clock", -1800*time.Millisecond))
	want(t, d, proto.ReasonTapTooOld)
	d, _ = f.handle(f.tapAt(proto.KindMetroEntry, catLinh, "vn_clock", time.Minute))
	want(t, d, proto.ReasonDeviceClock)
	d, _ = f.handle(f.tapAt(proto.KindMetroEntry, catLinh, "vn_clock", 2*time.Second))
	want(t, d, proto.ReasonOK) // a gate clock a little ahead is tolerated
	f.checkBooks()
}

// A rider whose decision reached the gate too late taps again at the same
// gate: the gate opens, nothing is charged twice.
func TestRetapAtTheSameStation(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_re", 100000)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_re"), proto.ReasonOK)
	d := f.do(proto.KindMetroEntry, catLinh, "vn_re") // again, a minute later
	want(t, d, proto.ReasonOK)
	want(t, f.do(proto.KindMetroEntry, laThanh, "vn_re"), proto.ReasonPassBack) // elsewhere: pass-back
	d = f.do(proto.KindMetroExit, yen, "vn_re")
	want(t, d, proto.ReasonOK)
	if *d.FareVND != 15000 {
		t.Fatalf("fare %d", *d.FareVND)
	}
	d = f.do(proto.KindMetroExit, yen, "vn_re") // the exit again
	want(t, d, proto.ReasonOK)
	if *d.FareVND != 0 || *d.BalanceVND != 85000 || !strings.Contains(d.Display.EN, "Already paid 15.000 ₫") {
		t.Errorf("exit retap decision %+v", d)
	}
	// Past the window, an exit with no entry is a missing entry again.
	f.now = f.now.Add(3 * time.Minute)
	d = f.do(proto.KindMetroExit, yen, "vn_re")
	if *d.FareVND != 15000 || *d.BalanceVND != 70000 {
		t.Errorf("exit long after: %+v", d)
	}
	f.checkBooks()
}

func TestOverlongJourneys(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_long", 100000)
	f.topUp("vn_short", 20000)
	// Exit ten hours after entry: one maximum fare, not two.
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_long"), proto.ReasonOK)
	f.now = f.now.Add(10 * time.Hour)
	d := f.do(proto.KindMetroExit, laThanh, "vn_long")
	if !d.Open || *d.FareVND != 15000 || *d.BalanceVND != 85000 {
		t.Errorf("overlong exit: %+v", d)
	}
	// A stale journey is closed at the maximum fare even when the entry
	// it made room for is then refused for lack of funds; the gate shows
	// the balance that is stored.
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_short"), proto.ReasonOK)
	f.now = f.now.Add(5 * time.Hour)
	d = f.do(proto.KindMetroEntry, catLinh, "vn_short")
	want(t, d, proto.ReasonInsufficientFunds)
	if *d.BalanceVND != 5000 || !f.balance("vn_short").Equal(money.Dong(5000)) {
		t.Errorf("decision balance %d, stored %s; want 5000", *d.BalanceVND, f.balance("vn_short"))
	}
	f.now = f.now.Add(time.Minute)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_short"), proto.ReasonInsufficientFunds) // not charged again
	if got := f.balance("vn_short"); !got.Equal(money.Dong(5000)) {
		t.Errorf("balance %s", got)
	}
	f.checkBooks()
}

func TestMalformedIsCountedNotRecorded(t *testing.T) {
	f := newFixture(t)
	tp := proto.Topics{}
	for _, c := range []struct{ topic, payload string }{
		{tp.Taps("a", "b"), "{not json"},
		{tp.Taps("a", "b"), `{"v":1}`},
		{tp.Taps("hn2a-lang", "other-gate"), ""}, // filled below: site/device differ from topic
	} {
		payload := []byte(c.payload)
		if c.payload == "" {
			_, payload = f.tap(proto.KindMetroEntry, "hn2a-lang", "vn_x")
		}
		if _, err := f.proc.Handle(context.Background(), c.topic, payload); !errors.Is(err, proto.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", c.payload, err)
		}
	}
	if got := f.proc.Stats().Malformed.Load(); got != 3 {
		t.Errorf("malformed count %d, want 3", got)
	}
	var n int
	if err := f.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM taps").Scan(&n); err != nil || n != 0 {
		t.Errorf("taps recorded: %d, %v", n, err)
	}
}

func TestLedgerRefusesUnbalancedAndEdits(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_g", 1000)
	ctx := context.Background()
	if _, err := f.store.Pool().Exec(ctx, "UPDATE ledger_entries SET amount = amount * 2"); err == nil {
		t.Error("ledger entry updated")
	}
	if _, err := f.store.Pool().Exec(ctx, "DELETE FROM ledger_transactions"); err == nil {
		t.Error("ledger transaction deleted")
	}
	_, err := f.store.Pool().Exec(ctx, `WITH t AS (INSERT INTO ledger_transactions (idempotency_key, kind, created_at)
		VALUES ('bad', 'x', now()) RETURNING id)
		INSERT INTO ledger_entries SELECT id, 'rider:vn_g', 5 FROM t`)
	if err == nil || !strings.Contains(err.Error(), "does not balance") {
		t.Errorf("unbalanced insert: %v", err)
	}
	// Nor can a statement add an unbalanced part to a posted transaction.
	f.topUp("vn_h", 10)
	_, err = f.store.Pool().Exec(ctx, `INSERT INTO ledger_entries
		SELECT id, 'rider:vn_h', 7 FROM ledger_transactions WHERE idempotency_key = 'topup:vn_g:1000'`)
	if err == nil || !strings.Contains(err.Error(), "does not balance") {
		t.Errorf("unbalanced entry added to a posted transaction: %v", err)
	}
	tx, _ := ledger.Transfer("topup:vn_g:1000", "topup", "", ledger.ProviderSettlement("sim"), ledger.Rider("vn_g"), money.Dong(1000))
	if err := f.store.Post(ctx, tx); !errors.Is(err, ledger.ErrDuplicate) {
		t.Errorf("second post of the same key: %v", err)
	}
	if got := f.balance("vn_g"); !got.Equal(money.Dong(1000)) {
		t.Errorf("balance %s", got)
	}
	f.checkBooks()
}

// Riders the law lets ride free, by the attributes VNeID asserts.
func TestConcessionsRideFree(t *testing.T) {
	f := newFixture(t)
	for _, who := range []string{"senior_ba", "child_be", "dis_chi"} {
		f.topUp(who, 10000)
		want(t, f.do(proto.KindMetroEntry, catLinh, who), proto.ReasonOK)
		d := f.do(proto.KindMetroExit, yen, who)
		want(t, d, proto.ReasonOK)
		if *d.FareVND != 0 || *d.BalanceVND != 10000 || d.Display.EN != "Free fare · Balance 10.000 ₫" {
			t.Errorf("%s: %+v", who, d)
		}
	}
	var cats []string
	rows, err := f.store.Pool().Query(context.Background(), "SELECT category FROM journeys ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		rows.Scan(&c)
		cats = append(cats, c)
	}
	if strings.Join(cats, ",") != "senior_60_plus,child_under_6,disabled" {
		t.Errorf("categories recorded %v", cats)
	}
	// A free rider with no balance may still enter.
	f.topUp("senior_ong", 10000)
	f.checkBooks()
}

// The daily cap (Line 2A day pass, 30.000 ₫) and the monthly cap (month
// pass, 200.000 ₫), counted per local day and month in Asia/Ho_Chi_Minh.
func TestCaps(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_cap", 1000000)
	trip := func(from, to string) proto.Decision {
		t.Helper()
		want(t, f.do(proto.KindMetroEntry, from, "vn_cap"), proto.ReasonOK)
		return f.do(proto.KindMetroExit, to, "vn_cap")
	}
	// 2026-11-24 14:30 local. 15.000 + 8.000, then 15.000 crosses the cap: 7.000.
	for i, c := range []struct {
		from, to string
		fare     int64
		cap      string
	}{
		{catLinh, yen, 15000, ""},
		{catLinh, laThanh, 8000, ""},
		{catLinh, yen, 7000, "daily cap 30.000 ₫ reached"},
		{catLinh, yen, 0, "daily cap"},
	} {
		d := trip(c.from, c.to)
		if *d.FareVND != c.fare || (c.cap != "" && !strings.Contains(d.Display.EN, c.cap)) {
			t.Errorf("trip %d: fare %d %q, want %d %q", i, *d.FareVND, d.Display.EN, c.fare, c.cap)
		}
	}
	// Entering at 23:58 local still belongs to the capped day, even leaving
	// after midnight; 00:00 starts a new one.
	f.now = time.Date(2026, 11, 24, 16, 57, 0, 0, time.UTC) // tap() adds a minute: 23:58 local
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_cap"), proto.ReasonOK)
	if d := f.do(proto.KindMetroExit, yen, "vn_cap"); *d.FareVND != 0 {
		t.Errorf("23:58 entry paid %d", *d.FareVND)
	}
	f.now = time.Date(2026, 11, 24, 16, 59, 0, 0, time.UTC) // 00:00 local, 25 Nov
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_cap"), proto.ReasonOK)
	if d := f.do(proto.KindMetroExit, yen, "vn_cap"); *d.FareVND != 15000 {
		t.Errorf("00:00 entry paid %d, want 15000", *d.FareVND)
	}
	// The month: 30.000 a day from 24 Nov on. By 29 Nov 180.000 is spent;
	// on 30 Nov the month cap (200.000) leaves 20.000: 15.000, then 5.000.
	for day := 25; day <= 30; day++ {
		f.now = time.Date(2026, 11, day, 1, 0, 0, 0, time.UTC)
		fares := []int64{}
		for i := 0; i < 3; i++ {
			fares = append(fares, *trip(catLinh, yen).FareVND)
		}
		wantFares := []int64{15000, 15000, 0}
		if day == 25 {
			wantFares = []int64{15000, 0, 0} // 15.000 paid at 00:00 already
		}
		if day == 30 {
			wantFares = []int64{15000, 5000, 0}
		}
		if fmt.Sprint(fares) != fmt.Sprint(wantFares) {
			t.Errorf("%d Nov: fares %v, want %v", day, fares, wantFares)
		}
	}
	// 1 December: a new month.
	f.now = time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)
	if d := trip(catLinh, yen); *d.FareVND != 15000 {
		t.Errorf("1 Dec: %d", *d.FareVND)
	}
	var capped int
	f.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM journeys WHERE cap IS NOT NULL AND full_fare > fare").Scan(&capped)
	if capped == 0 {
		t.Error("no journey records its cap")
	}
	f.checkBooks()
}

// Line 2A to Line 3 at Cát Linh within an hour is priced as one journey:
// the second leg costs its fare less the transfer discount (7.000 ₫).
func TestTransferAtCatLinh(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_tr", 100000)
	want(t, f.do(proto.KindMetroEntry, yen, "vn_tr"), proto.ReasonOK)
	if d := f.do(proto.KindMetroExit, catLinh, "vn_tr"); *d.FareVND != 15000 {
		t.Fatalf("first leg %d", *d.FareVND)
	}
	q, err := f.fares.PriceFor(fare.Query{From: "hn3-cat-linh", To: "hn3-nhon", At: f.now})
	if err != nil {
		t.Fatal(err)
	}
	want(t, f.do(proto.KindMetroEntry, "hn3-cat-linh", "vn_tr"), proto.ReasonOK)
	d := f.do(proto.KindMetroExit, "hn3-nhon", "vn_tr")
	wantFare := q.Amount.IntPart() - 7000
	if *d.FareVND != wantFare || !strings.Contains(d.Display.EN, "transfer, 7.000 ₫ off") {
		t.Errorf("second leg: %d %q, want %d with the transfer", *d.FareVND, d.Display.EN, wantFare)
	}
	var rule string
	var from int64
	if err := f.store.Pool().QueryRow(context.Background(),
		"SELECT transfer_rule, transfer_from FROM journeys WHERE exit_site = 'hn3-nhon'").Scan(&rule, &from); err != nil || rule == "" || from == 0 {
		t.Errorf("transfer not recorded: %q %d %v", rule, from, err)
	}
	// Back again: the third leg is a new journey (one transfer per journey),
	// and after the time limit there is no discount either.
	want(t, f.do(proto.KindMetroEntry, "hn3-nhon", "vn_tr"), proto.ReasonOK)
	want(t, f.do(proto.KindMetroExit, "hn3-cat-linh", "vn_tr"), proto.ReasonOK)
	f.now = f.now.Add(2 * time.Hour)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_tr"), proto.ReasonOK)
	if d := f.do(proto.KindMetroExit, yen, "vn_tr"); *d.FareVND != 15000 {
		t.Errorf("after the time limit: %d", *d.FareVND)
	}
	f.checkBooks()
}

// An entry never tapped out is closed at the maximum fare by the sweep; an
// exit that turns up later is not a second journey: in time (an offline
// gate forwarding it), the journey is priced from its taps and the
// difference refunded; too late, nothing more is charged.
func TestSweepAndLateExits(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.topUp("vn_sw", 100000)
	f.topUp("vn_late2", 100000)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_sw"), proto.ReasonOK)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_late2"), proto.ReasonOK)
	entered := f.now
	if n, err := f.proc.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep of fresh journeys: %d %v", n, err)
	}
	f.now = entered.Add(5 * time.Hour)
	if n, err := f.proc.Sweep(ctx); err != nil || n != 2 {
		t.Fatalf("sweep: %d %v, want 2", n, err)
	}
	if n, _ := f.proc.Sweep(ctx); n != 0 {
		t.Errorf("second sweep closed %d", n)
	}
	if got := f.balance("vn_sw"); !got.Equal(money.Dong(85000)) {
		t.Fatalf("after sweep %s", got)
	}
	// vn_sw's exit five hours on: the maximum fare stands, nothing more.
	d := f.do(proto.KindMetroExit, laThanh, "vn_sw")
	want(t, d, proto.ReasonOK)
	if *d.FareVND != 0 || *d.BalanceVND != 85000 {
		t.Errorf("exit after the sweep: %+v", d)
	}
	// vn_late2's exit was captured an hour after entry and arrives now
	// (the clock is set back to its capture time: offline forwarding).
	f.now = entered.Add(time.Hour)
	d = f.do(proto.KindMetroExit, laThanh, "vn_late2")
	want(t, d, proto.ReasonOK)
	if *d.BalanceVND != 92000 || !strings.Contains(d.Display.EN, "Fare 8.000 ₫, 7.000 ₫ refunded") {
		t.Errorf("late exit: %+v", d)
	}
	if got := f.balance("vn_late2"); !got.Equal(money.Dong(92000)) {
		t.Errorf("balance %s, want 92000", got)
	}
	f.checkBooks()
}

func TestPasses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.topUp("vn_pass", 100000)
	day, err := f.fares.NewPass("hn2a-day", "", f.now)
	if err != nil {
		t.Fatal(err)
	}
	buy := func(key string, p fare.Pass) error {
		pay, _ := ledger.Transfer("pass:vn_pass:"+key, "pass", p.ProductID, ledger.Rider("vn_pass"), ledger.OperatorRevenue("hanoi-metro"), p.Amount)
		_, err := f.store.BuyPass(ctx, "vn_pass", p, pay)
		return err
	}
	if err := buy("d1", day); err != nil {
		t.Fatal(err)
	}
	if err := buy("d1", day); !errors.Is(err, ledger.ErrDuplicate) {
		t.Errorf("second purchase with the same key: %v", err)
	}
	if got := f.balance("vn_pass"); !got.Equal(money.Dong(70000)) {
		t.Fatalf("balance after the day pass %s", got)
	}
	// Journeys on Line 2A today cost nothing; Line 3 is not covered.
	for i := 0; i < 3; i++ {
		want(t, f.do(proto.KindMetroEntry, catLinh, "vn_pass"), proto.ReasonOK)
		d := f.do(proto.KindMetroExit, yen, "vn_pass")
		if *d.FareVND != 0 || d.Display.EN != "Travelling on your pass · Balance 70.000 ₫" {
			t.Errorf("trip %d on the pass: %+v", i, d)
		}
	}
	want(t, f.do(proto.KindMetroEntry, "hn3-nhon", "vn_pass"), proto.ReasonOK)
	if d := f.do(proto.KindMetroExit, "hn3-cau-giay", "vn_pass"); *d.FareVND == 0 {
		t.Error("the Line 2A day pass paid for Line 3")
	}
	// Tomorrow (local) the day pass is over.
	f.now = day.ValidUntil
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_pass"), proto.ReasonOK)
	if d := f.do(proto.KindMetroExit, yen, "vn_pass"); *d.FareVND != 15000 {
		t.Errorf("after the pass: %d", *d.FareVND)
	}
	// A pass holder who never taps out is not charged the maximum fare by
	// the sweep: the pass covers the journey.
	pass2, _ := f.fares.NewPass("hn2a-day", "", f.now)
	if err := buy("d2", pass2); err != nil {
		t.Fatal(err)
	}
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_pass"), proto.ReasonOK)
	before := f.balance("vn_pass")
	f.now = f.now.Add(5 * time.Hour)
	if n, err := f.proc.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if got := f.balance("vn_pass"); !got.Equal(before) {
		t.Errorf("the sweep charged a pass holder: %s -> %s", before, got)
	}
	month, _ := f.fares.NewPass("hn2a-month", "", f.now)
	if err := buy("m1", month); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Errorf("a month pass beyond the balance: %v", err)
	}
	var passJourneys int
	f.store.Pool().QueryRow(ctx, "SELECT count(*) FROM journeys WHERE pass_id IS NOT NULL AND fare = 0").Scan(&passJourneys)
	if passJourneys != 4 {
		t.Errorf("%d journeys paid by a pass, want 4", passJourneys)
	}
	f.checkBooks()
}

// A second capture seconds after the rider's previous tap the other way is
// not a journey.
func TestMinimumTimeBetweenTaps(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_quick", 100000)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_quick"), proto.ReasonOK)
	f.now = f.now.Add(-time.Minute + 2*time.Second) // tap() adds the minute back: 2 s after the entry
	want(t, f.do(proto.KindMetroExit, catLinh, "vn_quick"), proto.ReasonTooSoon)
	want(t, f.do(proto.KindMetroExit, laThanh, "vn_quick"), proto.ReasonOK)
	f.now = f.now.Add(-time.Minute + 2*time.Second) // 2 s after the exit
	want(t, f.do(proto.KindMetroEntry, laThanh, "vn_quick"), proto.ReasonTooSoon)
	want(t, f.do(proto.KindMetroEntry, laThanh, "vn_quick"), proto.ReasonOK) // a minute on: fine
	if got := f.balance("vn_quick"); !got.Equal(money.Dong(92000)) {
		t.Errorf("balance %s", got)
	}
}

// An entry at another station past the pass-back window closes the open
// journey at the maximum fare for its missing exit and opens the new one,
// in one transaction (the one open journey a rider may have moves).
func TestEntryElsewhereClosesTheOpenJourney(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_out", 100000)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_out"), proto.ReasonOK)
	f.now = f.now.Add(30 * time.Minute)
	d := f.do(proto.KindMetroEntry, laThanh, "vn_out")
	want(t, d, proto.ReasonOK)
	stop, _ := f.fares.Stop(catLinh)
	max := f.fares.MaxFare(stop.NetworkID)
	if got := f.balance("vn_out"); !got.Equal(money.Dong(100000).Sub(max)) || !strings.Contains(d.Display.VI, "thiếu lượt ra") {
		t.Errorf("balance %s, display %q; want the maximum fare %s charged and said", got, d.Display.VI, max)
	}
	var open, missing int
	if err := f.store.Pool().QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE status = 'open' AND entry_site = $2),
		count(*) FILTER (WHERE status = 'incomplete' AND fare_rule = $3 AND entry_site = $4)
		FROM journeys WHERE subject = $1`, "vn_out", laThanh, admission.RuleMissingExit, catLinh).Scan(&open, &missing); err != nil {
		t.Fatal(err)
	}
	if open != 1 || missing != 1 {
		t.Errorf("%d journeys open at La Thành, %d closed for a missing exit; want 1 and 1", open, missing)
	}
	f.checkBooks()
}

// The held exit of a journey closed for its missing exit arrives from an
// offline gate after the rider's next journey has ended: it corrects the
// journey it belongs to, found by its capture time in the database, and is
// not charged as an exit with no entry.
func TestHeldExitCorrectsAnOlderJourney(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_held", 100000)
	t0 := f.now
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_held"), proto.ReasonOK)
	f.now = t0.Add(30 * time.Minute)
	want(t, f.do(proto.KindMetroEntry, yen, "vn_held"), proto.ReasonOK) // closes the first for its missing exit
	f.now = t0.Add(45 * time.Minute)
	want(t, f.do(proto.KindMetroExit, haDong, "vn_held"), proto.ReasonOK)
	// The exit at Hà Đông, captured 20 minutes after the first entry by a
	// gate that was offline, arrives now.
	f.now = t0.Add(60 * time.Minute)
	held, _ := f.tap(proto.KindMetroExit, haDong, "vn_held")
	captured := t0.Add(21 * time.Minute) // f.tap moved the clock a minute
	held.CapturedAt = proto.At(captured)
	held.Offline = &proto.OfflineDecision{Open: true, Reason: proto.ReasonOK, Rule: "verified", DenyListVersion: 1, DecidedAt: proto.At(captured)}
	b, err := held.Encode()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := f.handle(held, b)
	want(t, d, proto.ReasonOK)
	q1, _ := f.fares.Price(catLinh, haDong)
	q2, _ := f.fares.Price(yen, haDong)
	if got := f.balance("vn_held"); !got.Equal(money.Dong(100000).Sub(q1.Amount).Sub(q2.Amount)) {
		t.Errorf("balance %s, want 100.000 less the two real fares %s and %s", got, q1.Amount, q2.Amount)
	}
	var missingEntry int
	f.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM journeys WHERE subject = $1 AND fare_rule = $2`,
		"vn_held", admission.RuleMissingEntry).Scan(&missingEntry)
	if missingEntry != 0 {
		t.Errorf("%d journeys charged for a missing entry", missingEntry)
	}
	f.checkBooks()
}
