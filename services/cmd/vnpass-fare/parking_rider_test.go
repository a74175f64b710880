package main

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
)

// TestParkingFeeDisputedAndRefunded: a rider parks a motorbike through the
// barriers (taps over MQTT to the fare service), sees the session in
// /v1/me/parking with its plate, fee and the tariff rows that priced it,
// and disputes the fee; an operator's refund over the fee is refused, the
// fee is refunded through the ledger from the lot operator's revenue; the
// rider's balance, history, statement and sessions show it, and the books
// balance. Another rider, parked in the same lot, neither sees nor disputes
// the session, nor reads the dispute.
func TestParkingFeeDisputedAndRefunded(t *testing.T) {
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
	setNow := func(at time.Time) { p.skewMu.Lock(); p.skew = time.Until(at); p.skewMu.Unlock() }
	simNow := func() time.Time { p.skewMu.Lock(); defer p.skewMu.Unlock(); return time.Now().Add(p.skew) }
	setNow(lt(24, 7, 0))
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
	ctx := context.Background()

	an, anFace := p.rider("001090001301")
	binh, binhFace := p.rider("001090001302")
	in, out := p.rawGate(lot.ID, "hnp-e2e-in1"), p.rawGate(lot.ID, "hnp-e2e-out1")
	park := func(g *gate, kind proto.Kind, face, plate string) proto.Decision {
		t.Helper()
		now := simNow()
		tp := proto.Tap{EventID: proto.NewEventID(now), Device: g.dev, Site: g.site, Kind: kind,
			Assertion: p.assertion(face, g.dev), CapturedAt: proto.At(now), Plate: plate}
		b, err := tp.Encode()
		if err != nil {
			t.Fatal(err)
		}
		g.publish(b)
		return g.decision(tp.EventID)
	}
	wantReason(t, "an in", park(in, proto.KindParkingEntry, anFace, "29B1-123.45"), proto.ReasonOK)
	wantReason(t, "binh in", park(in, proto.KindParkingEntry, binhFace, "30A-456.78"), proto.ReasonOK)
	setNow(lt(24, 8, 0))
	d := park(out, proto.KindParkingExit, binhFace, "30A-456.78")
	wantReason(t, "binh out", d, proto.ReasonOK)
	binhFee := *d.FareVND
	setNow(lt(24, 18, 30))
	d = park(out, proto.KindParkingExit, anFace, "29B1-123.45")
	wantReason(t, "an out", d, proto.ReasonOK)
	q, err := lot.Tariffs[parking.Motorbike].Quote(lt(24, 7, 0), lt(24, 18, 30), nil)
	if err != nil {
		t.Fatal(err)
	}
	fee := q.Amount.IntPart()
	if *d.FareVND != fee || fee != 12000 || binhFee != 25000 {
		t.Fatalf("fees: an %d (quote %d), binh %d", *d.FareVND, fee, binhFee)
	}
	if p.balance(an) != 100_000-fee {
		t.Fatalf("an's balance %d", p.balance(an))
	}

	anTok, _ := p.main.Auth.Issue(an, authjwt.RoleRider, 72*time.Hour)
	binhTok, _ := p.main.Auth.Issue(binh, authjwt.RoleRider, 72*time.Hour)
	op, _ := p.main.Auth.IssueFor("nguyen.lan", authjwt.RoleOperator, "hn-parking-e2e", 72*time.Hour)
	sessions := func(tok string) []map[string]any {
		t.Helper()
		st, body := p.call("GET", "/v1/me/parking?from=2026-11-24&to=2026-11-24", tok, nil)
		ss, ok := body["sessions"].([]any)
		if st != 200 || !ok {
			t.Fatalf("/v1/me/parking: %d %v", st, body)
		}
		out := make([]map[string]any, len(ss))
		for i, s := range ss {
			out[i] = s.(map[string]any)
		}
		return out
	}
	ss := sessions(anTok)
	if len(ss) != 1 {
		t.Fatalf("an's sessions %v", ss)
	}
	s := ss[0]
	sid := int64(s["id"].(float64))
	if s["plate"] != "29B112345" || s["vehicle"] != "motorbike" || s["status"] != "closed" || s["lot_name"] != lot.Name ||
		int64(s["fee_vnd"].(float64)) != fee || int64(s["charged_vnd"].(float64)) != fee || s["charged_text"] != "12.000 ₫" ||
		s["tariff_rule"] != q.Steps[0].Rule || s["disputable"] != true || s["dispute"] != nil {
		t.Errorf("an's session as an sees it: %v", s)
	}
	if steps, _ := s["explanation"].([]any); len(steps) != len(q.Steps) || !strings.Contains(fmt.Sprint(steps), q.Steps[0].VI) {
		t.Errorf("explanation %v, want the steps %+v", s["explanation"], q.Steps)
	}
	if st, _ := p.call("GET", "/v1/me/parking", op, nil); st != 403 {
		t.Errorf("an operator's token on /v1/me/parking: %d", st)
	}

	// Binh sees only binh's session, and cannot dispute or read an's.
	if bs := sessions(binhTok); len(bs) != 1 || int64(bs[0]["id"].(float64)) == sid || bs[0]["plate"] != "30A45678" {
		t.Errorf("binh's sessions %v", bs)
	}
	if st, body := p.call("POST", "/v1/me/disputes", binhTok, map[string]any{"kind": "parking_session", "charge_id": sid,
		"reason": "Tôi không gửi xe lâu như vậy · I did not park that long"}); st != 404 {
		t.Errorf("binh disputes an's session: %d %v", st, body)
	}
	if st, _ := p.call("GET", fmt.Sprintf("/v1/parking/sessions/%d", sid), binhTok, nil); st != 404 {
		t.Errorf("binh reads an's session: %d", st)
	}

	// An disputes the fee; the operator refunds it through the ledger.
	reason := "Tôi lấy xe lúc 17:50, barie không mở · I came out at 17:50, the barrier did not open"
	st, body := p.call("POST", "/v1/me/disputes", anTok, map[string]any{"kind": "parking_session", "charge_id": sid, "reason": reason})
	if st != 201 || body["kind"] != "parking_session" || int64(body["charged_vnd"].(float64)) != fee || body["status"] != "open" {
		t.Fatalf("an's dispute: %d %v", st, body)
	}
	did := int64(body["id"].(float64))
	if st, _ := p.call("POST", "/v1/me/disputes", anTok, map[string]any{"kind": "parking_session", "charge_id": sid, "reason": reason}); st != 409 {
		t.Errorf("disputed twice: %d", st)
	}
	if s := sessions(anTok)[0]; s["disputable"] != false || s["dispute"].(map[string]any)["status"] != "open" {
		t.Errorf("an's session while disputed: %v", s)
	}
	if st, _ := p.call("GET", fmt.Sprintf("/v1/disputes/%d", did), binhTok, nil); st != 404 {
		t.Errorf("binh reads an's dispute: %d", st)
	}
	if st, _ := p.call("POST", fmt.Sprintf("/v1/disputes/%d/resolution", did), binhTok, map[string]any{"outcome": "refund", "reason": "tự hoàn tiền"}); st != 403 {
		t.Errorf("binh resolves an's dispute: %d", st)
	}
	st, body = p.call("GET", "/v1/disputes?status=open", op, nil)
	if queue, _ := body["disputes"].([]any); st != 200 || len(queue) != 1 || queue[0].(map[string]any)["charge_id"].(float64) != float64(sid) {
		t.Fatalf("operators' queue: %d %v", st, body)
	}
	resolution := fmt.Sprintf("/v1/disputes/%d/resolution", did)
	if st, body := p.call("POST", resolution, op, map[string]any{"outcome": "refund", "amount_vnd": fee + 1000,
		"reason": "Hoàn phí · Fee refunded"}); st != 409 || !strings.Contains(fmt.Sprint(body), "refund-too-large") {
		t.Errorf("a refund over the fee: %d %v", st, body)
	}
	st, body = p.call("POST", resolution, op, map[string]any{"outcome": "refund", "reason": "Camera xác nhận · CCTV confirms the exit at 17:50"})
	if st != 200 || body["status"] != "refunded" || int64(body["refund_vnd"].(float64)) != fee || body["refund_transaction_id"] == nil {
		t.Fatalf("refund: %d %v", st, body)
	}
	if st, _ := p.call("POST", resolution, op, map[string]any{"outcome": "refund", "reason": "again"}); st != 409 {
		t.Errorf("refunded twice: %d", st)
	}
	if got := p.balance(an); got != 100_000 {
		t.Errorf("an's balance %d after the refund, want 100.000", got)
	}

	// The rider's view: the session refunded, the refund in the history and
	// the statement; nothing left to dispute.
	if s := sessions(anTok)[0]; int64(s["charged_vnd"].(float64)) != 0 || int64(s["refunded_vnd"].(float64)) != fee ||
		s["disputable"] != false || s["dispute"].(map[string]any)["status"] != "refunded" {
		t.Errorf("an's session after the refund: %v", s)
	}
	if st, body := p.call("POST", "/v1/me/disputes", anTok, map[string]any{"kind": "parking_session", "charge_id": sid, "reason": reason}); st != 409 {
		t.Errorf("a refunded fee disputed again: %d %v", st, body)
	}
	st, body = p.call("GET", "/v1/me/history", anTok, nil)
	var refund map[string]any
	for _, x := range body["postings"].([]any) {
		if m := x.(map[string]any); m["kind"] == "parking_refund" {
			refund = m
		}
	}
	if st != 200 || refund == nil || int64(refund["amount_vnd"].(float64)) != fee || !strings.Contains(refund["memo"].(string), fmt.Sprintf("dispute #%d", did)) ||
		!strings.Contains(refund["memo"].(string), "operator:nguyen.lan") {
		t.Errorf("history: %d %v", st, body)
	}
	st, body = p.call("GET", "/v1/me/statements/2026-11?format=json", anTok, nil)
	byKind, _ := body["by_kind_vnd"].(map[string]any)
	if st != 200 || int64(byKind["parking_refund"].(float64)) != fee || int64(byKind["parking"].(float64)) != -fee ||
		int64(body["closing_vnd"].(float64)) != 100_000 {
		t.Errorf("statement: %d %v", st, body)
	}

	// The books: balanced, the lot operator keeps binh's fee only, and the
	// day reconciles the refund as parking (no orphaned fare movement).
	if b, err := p.main.Store.Books(ctx); err != nil || !b.Balanced() {
		t.Errorf("books: %+v %v", b, err)
	}
	if a, err := p.main.Store.Account(ctx, ledger.OperatorRevenue(lot.Operator)); err != nil || a.Balance.IntPart() != binhFee {
		t.Errorf("lot operator's revenue %+v %v, want %d", a, err, binhFee)
	}
	cs, err := p.main.Store.Clearing(ctx, lt(24, 12, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Operator == lot.Operator && (c.Parking.IntPart() != binhFee || !c.Other.IsZero() || !c.Total.Equal(c.Ledger)) {
			t.Errorf("clearing %+v", c)
		}
	}
	r, err := p.main.Store.Reconcile(ctx, lt(24, 12, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range r.Differences {
		if strings.Contains(fmt.Sprint(d), "parking") {
			t.Errorf("reconciliation: %+v", d)
		}
	}
}
