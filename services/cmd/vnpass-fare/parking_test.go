package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/loadtest/rush"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
	"github.com/vnpass/vnpass/turnstile-agent/vneidmatch"
)

// e2eLot is a small Hanoi lot, so that it fills up: 4 motorbikes, 2 cars,
// open 05:00-23:00, Decision 44/2017 tariffs.
const e2eLot = "lot_id,operator_id,city,name,address,lat,lon,opens,closes,motorbike_tariff,car_tariff,large_tariff,motorbike_capacity,car_capacity,large_capacity\n" +
	"hnp-e2e,hn-parking-e2e,hanoi,Bãi xe thử,Cát Linh,21.0288,105.8262,05:00,23:00,hn-44-2017-motorbike,hn-44-2017-car,,4,2,0\n"

func lt(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, parking.Zone) }

// TestParkingDayThroughBarrierAgents: cars and motorbikes enter and leave a
// lot over a simulated day through real barrier agents (disk queue, VNeID
// match, MQTT to the fare service): the lot fills and refuses, plates are
// checked at the exit, an attendant lets a vehicle in by hand, fees follow
// the tariff to the dong and are settled once (a tap delivered three times
// included), occupancy never leaves [0, capacity], the ledger balances, and
// ClickHouse holds every closed session.
func TestParkingDayThroughBarrierAgents(t *testing.T) {
	tb, err := fs.ReadFile(parking.ShippedData(), "tariffs.csv")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := parking.Load(fstest.MapFS{"tariffs.csv": {Data: tb}, "lots.csv": {Data: []byte(e2eLot)}})
	if err != nil {
		t.Fatal(err)
	}
	lot, _ := cat.Lot("hnp-e2e")

	p := preparePlatform(t)
	// One simulated clock for the provider, the service and the barriers.
	setNow := func(at time.Time) { p.skewMu.Lock(); p.skew = time.Until(at); p.skewMu.Unlock() }
	simNow := func() time.Time { p.skewMu.Lock(); defer p.skewMu.Unlock(); return time.Now().Add(p.skew) }
	setNow(lt(24, 6, 0))
	p.cfg.Now = simNow
	p.main = &Main{Config: p.cfg, Log: quietLog(), Parking: &Parking{Catalogue: cat}}
	if err := p.main.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.main.Close() })
	p.apiURL = "http://" + p.main.APIAddr()
	if p.token, err = p.main.Auth.Issue("e2e-admin", authjwt.RoleAdmin, 72*time.Hour); err != nil {
		t.Fatal(err)
	}

	barrier := func(dev string, kind proto.Kind) *agent.Agent {
		a, err := agent.New(agent.Config{Device: dev, Site: lot.ID, Kind: kind, Topics: p.broker.Topics,
			BrokerURL: p.broker.URL, Username: p.broker.GateUser, Password: p.broker.GatePassword, DecisionTimeout: 10 * time.Second,
			Matcher: vneidmatch.Matcher{Client: &vneid.MatchClient{BaseURL: p.idpURL, ClientKey: clientKey}},
			Gate:    gatesim.New(dev, nil), Logger: quietLog(), Dir: t.TempDir(), Now: simNow})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		return a
	}
	in := []*agent.Agent{barrier("hnp-e2e-in1", proto.KindParkingEntry), barrier("hnp-e2e-in2", proto.KindParkingEntry)}
	out := barrier("hnp-e2e-out1", proto.KindParkingExit)

	type vehicle struct {
		name, subject, face, plate string
		class                      parking.Class
		in                         time.Time // planned entry of the open session
		paid                       int64
	}
	var vs []*vehicle
	plates := []string{"29B1-101.01", "29B1-202.02", "29B1-303.03", "29B1-404.04", "29B1-505.05", "29B1-606.06", "30A-111.11", "30A-222.22", "30A-333.33"}
	for i, pl := range plates {
		sub, face := p.rider(fmt.Sprintf("0010900%05d", 700+i))
		c, _ := parking.ClassOf(pl)
		name := fmt.Sprintf("m%d", i+1)
		if c == parking.Car {
			name = fmt.Sprintf("c%d", i-5)
		}
		vs = append(vs, &vehicle{name: name, subject: sub, face: face, plate: pl, class: c})
	}
	byName := map[string]*vehicle{}
	for _, v := range vs {
		byName[v.name] = v
	}

	// occupancy reads the lot from the API and checks its bounds.
	occupancy := func(what string) (moto, car int) {
		t.Helper()
		code, body := p.call("GET", "/v1/parking/lots/hnp-e2e", p.token, nil)
		if code != 200 {
			t.Fatalf("%s: lot: %d %v", what, code, body)
		}
		classes := body["classes"].(map[string]any)
		get := func(c parking.Class) int {
			s := classes[string(c)].(map[string]any)
			occ, capy, free := int(s["occupied"].(float64)), int(s["capacity"].(float64)), int(s["free"].(float64))
			if occ < 0 || occ > capy || free != capy-occ {
				t.Fatalf("%s: %s occupied %d of %d, free %d", what, c, occ, capy, free)
			}
			return occ
		}
		return get(parking.Motorbike), get(parking.Car)
	}
	var expected int64 // fees the operator must have been credited
	tap := func(a *agent.Agent, v *vehicle, plate string) proto.Decision {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := a.Tap(ctx, v.face, plate)
		if err != nil || res.Local {
			t.Fatalf("%s: tap: %v, local %v (%+v)", v.name, err, res.Local, res.Decision)
		}
		return res.Decision
	}
	enter := func(at time.Time, v *vehicle, want proto.Reason) {
		t.Helper()
		setNow(at)
		d := tap(in[0], v, v.plate)
		wantReason(t, v.name+" in at "+at.Format("15:04"), d, want)
		if d.Open {
			v.in = at
		}
		occupancy(v.name + " in")
	}
	leave := func(at time.Time, v *vehicle, plate string, want proto.Reason) {
		t.Helper()
		setNow(at)
		d := tap(out, v, plate)
		wantReason(t, v.name+" out at "+at.Format("15:04"), d, want)
		if want == proto.ReasonOK {
			q, err := lot.Tariffs[v.class].Quote(v.in, at, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d.FareVND == nil || *d.FareVND != q.Amount.IntPart() {
				t.Errorf("%s: %s -> %s charged %v, want %s (%+v)", v.name, v.in.Format("15:04"), at.Format("02 15:04"), d.FareVND, q.Amount, q.Steps)
			}
			v.paid += q.Amount.IntPart()
			expected += q.Amount.IntPart()
		}
		occupancy(v.name + " out")
	}

	// 06:40: five motorbikes at two entry barriers at once for four spaces,
	// and three cars for two.
	setNow(lt(24, 6, 40))
	var mu sync.Mutex
	var refused []*vehicle
	var wg sync.WaitGroup
	for i, v := range vs[:5] {
		wg.Add(1)
		go func(a *agent.Agent, v *vehicle) {
			defer wg.Done()
			res, err := a.Tap(context.Background(), v.face, v.plate)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil || res.Local:
				t.Errorf("%s: %v %+v", v.name, err, res)
			case res.Decision.Open:
				v.in = lt(24, 6, 40)
			case res.Decision.Reason == proto.ReasonLotFull:
				refused = append(refused, v)
			default:
				t.Errorf("%s: %s", v.name, res.Decision.Reason)
			}
		}(in[i%2], v)
	}
	wg.Wait()
	if len(refused) != 1 {
		t.Fatalf("%d motorbikes refused for a full lot, want 1", len(refused))
	}
	if m, c := occupancy("06:40"); m != 4 || c != 0 {
		t.Fatalf("06:40: %d motorbikes, %d cars", m, c)
	}
	enter(lt(24, 6, 41), byName["c1"], proto.ReasonOK)
	enter(lt(24, 6, 42), byName["c2"], proto.ReasonOK)
	enter(lt(24, 6, 43), byName["c3"], proto.ReasonLotFull)
	var inside []*vehicle
	for _, v := range vs[:5] {
		if v != refused[0] {
			inside = append(inside, v)
		}
	}
	sort.Slice(inside, func(i, j int) bool { return inside[i].name < inside[j].name })
	late := refused[0]

	// Plates checked at the exit; an exit with no entry is held.
	leave(lt(24, 6, 50), inside[0], inside[1].plate, proto.ReasonPlateMismatch)
	leave(lt(24, 7, 30), byName["c3"], byName["c3"].plate, proto.ReasonNoEntry)
	enter(lt(24, 7, 35), inside[0], proto.ReasonPassBack)
	leave(lt(24, 8, 10), inside[0], inside[0].plate, proto.ReasonOK) // 1h30 by day: 5.000
	enter(lt(24, 8, 12), late, proto.ReasonOK)
	leave(lt(24, 9, 20), byName["c1"], byName["c1"].plate, proto.ReasonOK) // 2h39: 3 hours, 85.000
	enter(lt(24, 9, 25), byName["c3"], proto.ReasonOK)

	// 12:00: inside[1] leaves by a barrier whose tap is delivered three
	// times (QoS 1 redeliveries): one decision, one charge.
	{
		setNow(lt(24, 12, 0))
		v := inside[1]
		g := p.rawGate(lot.ID, "hnp-e2e-out2")
		now := simNow()
		tp := proto.Tap{EventID: proto.NewEventID(now), Device: g.dev, Site: g.site, Kind: proto.KindParkingExit,
			Assertion: p.assertion(v.face, g.dev), CapturedAt: proto.At(now), Plate: v.plate}
		b, err := tp.Encode()
		if err != nil {
			t.Fatal(err)
		}
		g.publish(b)
		first := g.decision(tp.EventID)
		g.publish(b)
		g.publish(b)
		for i := 0; i < 2; i++ {
			if d := g.decision(tp.EventID); d.DecidedAt != first.DecidedAt || *d.FareVND != *first.FareVND {
				t.Fatalf("redelivery answered %+v, first %+v", d, first)
			}
		}
		wantReason(t, "redelivered exit", first, proto.ReasonOK)
		if *first.FareVND != 5000 {
			t.Fatalf("06:40-12:00 charged %d", *first.FareVND)
		}
		v.paid += 5000
		expected += 5000
	}
	leave(lt(24, 18, 30), inside[2], inside[2].plate, proto.ReasonOK)      // day and night: 12.000
	leave(lt(24, 19, 0), byName["c2"], byName["c2"].plate, proto.ReasonOK) // 12h18: 13 hours, into debt
	leave(lt(24, 20, 0), byName["c3"], byName["c3"].plate, proto.ReasonOK) // 10h35: 11 hours
	leave(lt(24, 22, 0), inside[3], inside[3].plate, proto.ReasonOK)       // day and night
	enter(lt(24, 23, 30), byName["m6"], proto.ReasonLotClosed)             // the lot closes at 23:00
	if b := p.balance(byName["c2"].subject); b != 100_000-byName["c2"].paid || b >= 0 {
		t.Fatalf("c2 balance %d, paid %d: an exit opens into debt", b, byName["c2"].paid)
	}

	// The attendant lets m6 in by hand at 23:31; the override names them.
	att, err := p.main.Auth.IssueFor("att-hoa", authjwt.RoleOperator, "hn-parking-e2e", 72*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	setNow(lt(24, 23, 31))
	m6 := byName["m6"]
	code, body := p.call("POST", "/v1/parking/lots/hnp-e2e/overrides", att, map[string]any{
		"action": "entry", "subject": m6.subject, "plate": m6.plate, "reason": "late shift worker", "idempotency_key": "ov-m6"})
	if code != 201 || body["attendant"] != "att-hoa" || body["role"] != "operator" {
		t.Fatalf("override: %d %v", code, body)
	}
	m6.in = lt(24, 23, 31)
	if code, _ := p.call("POST", "/v1/parking/lots/hnp-e2e/overrides", p.token, map[string]any{
		"action": "exit", "plate": "29B1-999.99", "reason": "x", "idempotency_key": "ov-x"}); code != 404 {
		t.Fatalf("override of a plate not inside: %d", code)
	}
	riderTok, _ := p.main.Auth.Issue(m6.subject, authjwt.RoleRider, 72*time.Hour)
	if code, _ := p.call("POST", "/v1/parking/lots/hnp-e2e/overrides", riderTok, map[string]any{
		"action": "exit", "plate": m6.plate, "reason": "x", "idempotency_key": "ov-y"}); code != 403 {
		t.Fatalf("a rider's override: %d", code)
	}

	// Next morning: the last two leave; 24 h wrap and a night turn.
	leave(lt(25, 6, 50), m6, m6.plate, proto.ReasonOK)    // 23:31-06:50: night and day, capped
	leave(lt(25, 7, 0), late, late.plate, proto.ReasonOK) // 08:12-07:00: capped at a day and night
	if m, c := occupancy("end of day"); m != 0 || c != 0 {
		t.Fatalf("end of day: %d motorbikes, %d cars inside", m, c)
	}

	// Money: every rider paid exactly their fees; the operator got them
	// all; the books balance.
	for _, v := range vs {
		if b := p.balance(v.subject); b != 100_000-v.paid {
			t.Errorf("%s: balance %d, want %d", v.name, b, 100_000-v.paid)
		}
	}
	rev, err := p.main.Store.Account(context.Background(), ledger.OperatorRevenue("hn-parking-e2e"))
	if err != nil || rev.Balance.IntPart() != expected {
		t.Fatalf("operator revenue %v %v, want %d", rev.Balance, err, expected)
	}
	books, err := p.main.Store.Books(context.Background())
	if err != nil || !books.Balanced() {
		t.Fatalf("books %+v %v", books, err)
	}
	var charges int
	if err := p.main.Store.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM ledger_transactions WHERE kind = 'parking'`).Scan(&charges); err != nil || charges != 9 {
		t.Fatalf("%d parking charges, want 9 (%v)", charges, err)
	}

	// The day reconciles and the operator's clearing line equals its
	// ledger (parking is credited beside fares, under its own kind).
	rec, err := p.main.Store.Reconcile(context.Background(), lt(24, 12, 0), nil)
	if err != nil || !rec.OK() {
		t.Fatalf("reconciliation %+v %v", rec.Differences, err)
	}
	clearing, err := p.main.Store.Clearing(context.Background(), lt(24, 12, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clearing {
		if !c.Balanced() {
			t.Errorf("clearing %+v does not equal the ledger", c)
		}
	}

	// Analytics: every closed session in ClickHouse, once, with its fee.
	waitFor(t, 10*time.Second, "parking sessions in ClickHouse", func() (bool, string) {
		n, fees, err := p.main.Sink.ParkingCount(context.Background())
		return err == nil && n == 9 && fees == expected, fmt.Sprintf("%d sessions, %d ₫, %v", n, fees, err)
	})

	// c1 reads why its stay cost what it did; another rider cannot.
	var c1Session int64
	if err := p.main.Store.Pool().QueryRow(context.Background(), `SELECT id FROM parking_sessions WHERE plate = '30A11111'`).Scan(&c1Session); err != nil {
		t.Fatal(err)
	}
	c1Tok, _ := p.main.Auth.Issue(byName["c1"].subject, authjwt.RoleRider, 72*time.Hour)
	code, body = p.call("GET", fmt.Sprintf("/v1/parking/sessions/%d", c1Session), c1Tok, nil)
	if q, _ := body["quote"].(map[string]any); code != 200 || body["fee_vnd"].(float64) != 85000 || q["amount_vnd"].(float64) != 85000 {
		t.Fatalf("c1's session: %d %v", code, body)
	}
	if code, _ := p.call("GET", fmt.Sprintf("/v1/parking/sessions/%d", c1Session), riderTok, nil); code != 404 {
		t.Fatalf("another rider's session: %d", code)
	}

	// The barriers' counters are on the metrics page.
	resp, err := http.Get(p.apiURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `vnpass_parking_taps_total{outcome="duplicate"} 2`) {
		t.Errorf("metrics: %s", metrics)
	}

	// Free spaces near Cát Linh: the lot, empty, is found.
	setNow(lt(25, 8, 0))
	code, body = p.call("GET", "/v1/parking/near?lat=21.029&lon=105.826&class=car", riderTok, nil)
	if lots, _ := body["lots"].([]any); code != 200 || len(lots) != 1 {
		t.Fatalf("near: %d %v", code, body)
	}
}

// TestRushParksAtCatLinh: the rush simulator's parkers go through the Cát
// Linh lot's barriers around their metro trip: every barrier opens, the
// stays are inside the free minutes, and the lot is empty at the end.
func TestRushParksAtCatLinh(t *testing.T) {
	p := startPlatform(t)
	stations := p.line2A()[9:] // three stations; TestRushOnLine2A takes them all (device ids are per station)
	rep, err := rush.Run(context.Background(), rush.Config{
		Stations: stations, GatesPerStation: 1, Riders: 20, Window: time.Second, RideTime: 300 * time.Millisecond,
		Topics: p.broker.Topics, BrokerURL: p.broker.URL, GateUser: p.broker.GateUser, GatePass: p.broker.GatePassword,
		DecisionTimeout: 10 * time.Second, VNeIDURL: p.idpURL, VNeIDClientKey: clientKey, APIURL: p.apiURL, APIToken: p.token,
		ParkingLot: "hnp-cat-linh", ParkEvery: 2, Log: quietLog(), Seed: 6,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range rep.Trips {
		if !tr.Entry.Decision.Open || tr.Exited && !tr.Exit.Decision.Open {
			t.Logf("%s parked %v: entry %s %q, exit %s", tr.Rider.Subject, tr.Parked, tr.Entry.Decision.Reason, tr.Entry.Decision.Display.EN, tr.Exit.Decision.Reason)
		}
	}
	if rep.ParkingTaps != 20 || rep.ParkingOpened != 20 || rep.Opened != rep.Taps {
		t.Fatalf("parking taps %d, opened %d; metro %d of %d opened", rep.ParkingTaps, rep.ParkingOpened, rep.Opened, rep.Taps)
	}
	for _, tr := range rep.Trips {
		if tr.Parked && (tr.ParkOut.Decision.FareVND == nil || *tr.ParkOut.Decision.FareVND != 0) {
			t.Fatalf("%s charged %v for a stay of seconds", tr.Plate, tr.ParkOut.Decision.FareVND)
		}
	}
	code, body := p.call("GET", "/v1/parking/lots/hnp-cat-linh", p.token, nil)
	if m := body["classes"].(map[string]any)["motorbike"].(map[string]any); code != 200 || m["occupied"].(float64) != 0 {
		t.Fatalf("lot after the rush: %d %v", code, body)
	}
}
