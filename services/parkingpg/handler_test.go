package parkingpg_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/parkingpg"
	"github.com/vnpass/vnpass/services/settlepg"
)

// clock is a settable clock shared by the handler and the taps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *clock) Set(t time.Time)         { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func local(day, h, m int) time.Time      { return time.Date(2026, 11, day, h, m, 0, 0, parking.Zone) }
func enc(s string) string                { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
func token(sub, jti, device string) string {
	return enc("h") + "." + enc(sub+"|"+jti+"|"+device) + "." + enc("s")
}

// verifier accepts the tokens made by token: the handler's logic, not
// signatures, is under test here (services/cmd/vnpass-fare runs the real one).
type verifier struct{ now func() time.Time }

func (v verifier) Verify(_ context.Context, tok, device string) (identity.Assertion, error) {
	parts := strings.Split(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	f := strings.Split(string(b), "|")
	if len(f) != 3 {
		return identity.Assertion{}, identity.ErrAssertionInvalid
	}
	if f[2] != device {
		return identity.Assertion{}, identity.ErrAssertionWrongDevice
	}
	return identity.Assertion{Subject: f[0], JTI: f[1], Audience: device, ExpiresAt: v.now().Add(time.Minute), Level: 2}, nil
}

type fixture struct {
	t       *testing.T
	clock   *clock
	settle  *settlepg.Store
	store   *parkingpg.Store
	h       *parkingpg.Handler
	topics  proto.Topics
	n       int
	lastTap map[string][]byte
}

// testLots: one Hanoi lot with two car spaces and three motorbike spaces.
const testLots = "lot_id,operator_id,city,name,address,lat,lon,opens,closes,motorbike_tariff,car_tariff,large_tariff,motorbike_capacity,car_capacity,large_capacity\n" +
	"hnp-test,hn-parking,hanoi,Test lot,,21.03,105.83,00:00,24:00,hn-44-2017-motorbike,hn-44-2017-car,,3,2,0\n"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	tb, err := fs.ReadFile(parking.ShippedData(), "tariffs.csv")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := parking.Load(fstest.MapFS{"tariffs.csv": {Data: tb}, "lots.csv": {Data: []byte(testLots)}})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: local(24, 7, 0)}
	url := testenv.PostgresURL(t)
	settle, err := settlepg.Open(ctx, url, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(settle.Close)
	store, err := parkingpg.Open(ctx, url, cat, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	topics := proto.Topics{Root: "vnpass/t/parking/v1"}
	h, err := parkingpg.NewHandler(parkingpg.Config{Store: store, Verifier: verifier{c.Now}, Topics: topics, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, clock: c, settle: settle, store: store, h: h, topics: topics, lastTap: map[string][]byte{}}
}

func (f *fixture) rider(sub string, dong int64) {
	f.t.Helper()
	ctx := context.Background()
	if _, err := f.settle.OpenRiderAccount(ctx, sub); err != nil {
		f.t.Fatal(err)
	}
	if dong > 0 {
		tx, _ := ledger.Transfer("topup:"+sub, "topup", "", ledger.ProviderSettlement("sim"), ledger.Rider(sub), money.Dong(dong))
		if err := f.settle.Post(ctx, tx); err != nil {
			f.t.Fatal(err)
		}
	}
}

// tap sends one barrier tap and returns the decision.
func (f *fixture) tap(kind proto.Kind, sub, plate string) proto.Decision {
	f.t.Helper()
	f.n++
	dev := "hnp-test-in1"
	if kind == proto.KindParkingExit {
		dev = "hnp-test-out1"
	}
	now := f.clock.Now()
	tap := proto.Tap{EventID: proto.NewEventID(now), Device: dev, Site: "hnp-test", Kind: kind,
		Assertion: token(sub, "jti-"+proto.NewEventID(now), dev), CapturedAt: proto.At(now), Plate: plate}
	b, err := tap.Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	f.lastTap[sub] = b
	return f.send(dev, b)
}

func (f *fixture) send(dev string, b []byte) proto.Decision {
	f.t.Helper()
	r, err := f.h.Handle(context.Background(), f.topics.Taps("hnp-test", dev), b)
	if err != nil {
		f.t.Fatal(err)
	}
	d, err := proto.DecodeDecision(r.Payload)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *fixture) balance(sub string) int64 {
	a, err := f.settle.Account(context.Background(), ledger.Rider(sub))
	if err != nil {
		f.t.Fatal(err)
	}
	return a.Balance.IntPart()
}

func want(t *testing.T, what string, d proto.Decision, r proto.Reason) {
	t.Helper()
	if d.Reason != r || d.Open != (r == proto.ReasonOK) {
		t.Fatalf("%s: %s (%s), want %s", what, d.Reason, d.Display.EN, r)
	}
}

func TestBarrierRules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.rider("vn_an", 100_000)
	f.rider("vn_binh", 100_000)
	f.rider("vn_poor", 3_000)

	d := f.tap(proto.KindParkingEntry, "vn_an", "29B1-123.45")
	want(t, "motorbike entry", d, proto.ReasonOK)
	if !strings.Contains(d.Display.VI, "29B112345") || !strings.Contains(d.Display.VI, "Số dư 100.000 ₫") {
		t.Errorf("display %+v", d.Display)
	}
	want(t, "entry again with a session open", func() proto.Decision {
		f.clock.Advance(3 * time.Minute)
		return f.tap(proto.KindParkingEntry, "vn_an", "29B1-123.45")
	}(), proto.ReasonPassBack)
	want(t, "another rider, same plate", f.tap(proto.KindParkingEntry, "vn_binh", "29B1-123.45"), proto.ReasonPlateMismatch)
	want(t, "no plate", f.tap(proto.KindParkingEntry, "vn_binh", ""), proto.ReasonNoPlate)
	want(t, "balance below a turn", f.tap(proto.KindParkingEntry, "vn_poor", "29B1-777.77"), proto.ReasonInsufficientFunds)
	want(t, "no account", f.tap(proto.KindParkingEntry, "vn_nobody", "29B1-888.88"), proto.ReasonNoAccount)
	want(t, "exit with no entry", f.tap(proto.KindParkingExit, "vn_binh", "30A-111.11"), proto.ReasonNoEntry)

	// Cars: two spaces.
	want(t, "car 1", f.tap(proto.KindParkingEntry, "vn_binh", "30A-111.11"), proto.ReasonOK)
	f.rider("vn_chi", 100_000)
	f.rider("vn_dung", 100_000)
	want(t, "car 2", f.tap(proto.KindParkingEntry, "vn_chi", "30A-222.22"), proto.ReasonOK)
	want(t, "car 3: full", f.tap(proto.KindParkingEntry, "vn_dung", "30A-333.33"), proto.ReasonLotFull)
	occ, err := f.store.Occupancy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if occ["hnp-test"][parking.Car] != 2 || occ["hnp-test"][parking.Motorbike] != 1 {
		t.Fatalf("occupancy %v", occ)
	}

	// Exit: the plate must match; 2h30 of a car is 85.000 ₫.
	f.clock.Set(local(24, 9, 33))
	want(t, "exit with another plate", f.tap(proto.KindParkingExit, "vn_binh", "30A-222.22"), proto.ReasonPlateMismatch)
	d = f.tap(proto.KindParkingExit, "vn_binh", "30A-111.11")
	want(t, "car exit", d, proto.ReasonOK)
	if d.FareVND == nil || *d.FareVND != 85000 || *d.BalanceVND != 15000 || f.balance("vn_binh") != 15000 {
		t.Fatalf("car exit %+v, balance %d", d, f.balance("vn_binh"))
	}
	// The same tap again (QoS 1 redelivery): the same bytes, no charge.
	again := f.send("hnp-test-out1", f.lastTap["vn_binh"])
	if !reflect.DeepEqual(again, d) || f.balance("vn_binh") != 15000 {
		t.Fatalf("redelivery %+v, balance %d", again, f.balance("vn_binh"))
	}
	want(t, "retap at the exit", f.tap(proto.KindParkingExit, "vn_binh", "30A-111.11"), proto.ReasonOK)
	if f.balance("vn_binh") != 15000 {
		t.Fatal("retap charged")
	}
	// An exit always opens for money: a prepaid balance goes negative.
	f.clock.Set(local(24, 17, 0))
	d = f.tap(proto.KindParkingExit, "vn_chi", "30A-222.22")
	want(t, "car exit into debt", d, proto.ReasonOK)
	if *d.FareVND != 2*25000+2*35000+6*45000 || f.balance("vn_chi") != 100000-390000 { // 07:03-17:00: 10 hours
		t.Fatalf("fee %d balance %d", *d.FareVND, f.balance("vn_chi"))
	}

	// Replayed assertion: another event with a used jti.
	var replay proto.Tap
	replay, _ = proto.DecodeTap(f.lastTap["vn_an"])
	replay.EventID = proto.NewEventID(f.clock.Now())
	replay.CapturedAt = proto.At(f.clock.Now())
	b, _ := replay.Encode()
	want(t, "replayed assertion", f.send("hnp-test-in1", b), proto.ReasonAssertionReplayed)

	// Attendant override: vn_dung's car let in by hand, let out waived.
	o, err := f.store.RecordOverride(ctx, parkingpg.Override{Lot: "hnp-test", Action: "entry", Subject: "vn_dung", Plate: "30A-333.33",
		Reason: "lot full, VIP space", Attendant: "att-01", Role: "operator", Key: "ov-1"})
	if err != nil || o.Session == 0 {
		t.Fatalf("override %+v %v", o, err)
	}
	f.clock.Advance(time.Hour)
	o, err = f.store.RecordOverride(ctx, parkingpg.Override{Lot: "hnp-test", Action: "exit", Plate: "30A33333",
		Reason: "plate reader broken", Attendant: "att-01", Role: "operator", Key: "ov-2"})
	if err != nil || o.Subject != "vn_dung" || o.Fee.IntPart() != 25000 || f.balance("vn_dung") != 75000 {
		t.Fatalf("override exit %+v %v, balance %d", o, err, f.balance("vn_dung"))
	}
	if again, err := f.store.RecordOverride(ctx, parkingpg.Override{Lot: "hnp-test", Action: "exit", Plate: "30A33333",
		Reason: "plate reader broken", Attendant: "att-01", Role: "operator", Key: "ov-2"}); err != nil || again.ID != o.ID || f.balance("vn_dung") != 75000 {
		t.Fatalf("override repeated: %+v %v", again, err)
	}
	if _, err := f.store.RecordOverride(ctx, parkingpg.Override{Lot: "hnp-test", Action: "exit", Plate: "30A99999",
		Reason: "x", Attendant: "att-01", Role: "operator", Key: "ov-3"}); !errors.Is(err, parkingpg.ErrNoSession) {
		t.Fatalf("override of no session: %v", err)
	}

	// A month subscription bound to a plate: paid from the balance, its
	// stays are free; the same rider's other motorbike pays.
	if _, _, err := f.store.BuySubscription(ctx, parkingpg.SubscriptionRequest{Lot: "hnp-test", Subject: "vn_an", Plate: "29B1-123.45", Key: "s0"}); !errors.Is(err, parkingpg.ErrInsufficient) {
		t.Fatalf("subscription over the balance: %v", err)
	}
	f.rider("vn_em", 200_000)
	sub, price, err := f.store.BuySubscription(ctx, parkingpg.SubscriptionRequest{Lot: "hnp-test", Subject: "vn_em", Plate: "29B1-555.55", Key: "s1"})
	if err != nil || price.IntPart() != 120000 || f.balance("vn_em") != 80000 || !sub.From.Equal(local(24, 0, 0)) {
		t.Fatalf("subscription %+v %v, balance %d", sub, err, f.balance("vn_em"))
	}
	want(t, "subscriber in", f.tap(proto.KindParkingEntry, "vn_em", "29B1-555.55"), proto.ReasonOK)
	f.clock.Advance(5 * time.Hour)
	d = f.tap(proto.KindParkingExit, "vn_em", "29B1-555.55")
	if want(t, "subscriber out", d, proto.ReasonOK); *d.FareVND != 0 || f.balance("vn_em") != 80000 {
		t.Fatalf("subscriber charged: %+v", d)
	}
	want(t, "subscriber's other motorbike in", f.tap(proto.KindParkingEntry, "vn_em", "29B1-666.66"), proto.ReasonOK)
	f.clock.Advance(time.Hour)
	if d = f.tap(proto.KindParkingExit, "vn_em", "29B1-666.66"); *d.FareVND != 8000 || f.balance("vn_em") != 72000 {
		t.Fatalf("other plate: %+v", d)
	}
	if b, err := f.settle.Books(ctx); err != nil || !b.Balanced() {
		t.Fatalf("books %+v %v", b, err)
	}
}

func TestBooksBalance(t *testing.T) {
	f := newFixture(t)
	f.rider("vn_a", 50_000)
	want(t, "in", f.tap(proto.KindParkingEntry, "vn_a", "29B1-123.45"), proto.ReasonOK)
	f.clock.Advance(12 * time.Hour) // 07:00 -> 19:00: day and night, capped at 12.000
	d := f.tap(proto.KindParkingExit, "vn_a", "29B1-123.45")
	if *d.FareVND != 12000 || f.balance("vn_a") != 38000 {
		t.Fatalf("%+v", d)
	}
	b, err := f.settle.Books(context.Background())
	if err != nil || !b.Balanced() {
		t.Fatalf("books %+v %v", b, err)
	}
	var rev decimal.Decimal
	a, _ := f.settle.Account(context.Background(), ledger.OperatorRevenue("hn-parking"))
	rev = a.Balance
	if rev.IntPart() != 12000 {
		t.Fatalf("operator revenue %s", rev)
	}
}
