package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/payment"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/paysim"
	"github.com/vnpass/vnpass/services/vneidsim"
)

// TestPostpaidRidersAndCollections: three post-paid riders travel with no
// balance. The day's collection debits each once: the first bank approves,
// the second declines (the rider is then in debt and refused at the next
// entry), the third answers too late (the debit stays pending and, asked
// again under the same key, is approved without a second debit). The
// indebted rider funds their bank and pays the debt in the app, and rides
// again. The day reconciles against the provider's settlement report.
func TestPostpaidRidersAndCollections(t *testing.T) {
	const payKey = "paysim-client-key-0123456789abcdef"
	sim, err := paysim.New(paysim.Config{Name: "paysim", ClientKey: payKey, HangFor: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sim.Serve(ln)
	t.Cleanup(func() { sim.Close() })
	p := startPlatformWith(t, func(c *Config) {
		c.PayURL, c.PayClientKey, c.PayProvider = "http://"+ln.Addr().String(), payKey, "paysim"
		c.PayTimeout, c.DebtLimit = 300*time.Millisecond, 10000
	})
	ctx := context.Background()
	type rider struct {
		subject, face, token, account string
	}
	var riders []rider
	for i, acct := range []string{"9704000011110001", "9704000022220002", "9704000033330003"} {
		e, _, err := p.idp.Enroll(ctx, vneidsim.Enrollment{CCCD: "0011900000" + string(rune('1'+i)) + "0", FullName: "Đỗ Văn Hùng", DateOfBirth: "1985-02-02"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.api().Link(ctx, e.Subject); err != nil {
			t.Fatal(err)
		}
		tok, _ := p.main.Auth.Issue(e.Subject, authjwt.RoleRider, time.Hour)
		riders = append(riders, rider{e.Subject, e.FaceRef, tok, acct})
	}
	gIn := p.rawGate("hn2a-cat-linh", "hn2a-cat-linh-in01")
	gOut := p.rawGate("hn2a-yen-nghia", "hn2a-yen-nghia-out01")
	// Prepaid with no balance: refused.
	wantReason(t, "prepaid, empty", gIn.send(proto.KindMetroEntry, p.assertion(riders[0].face, gIn.dev)), proto.ReasonInsufficientFunds)

	for _, r := range riders {
		body := map[string]any{"method": "bank", "account": r.account, "consent_version": "wrong", "postpaid": true, "idempotency_key": "l1"}
		if st, _ := p.call("POST", "/v1/accounts/"+r.subject+"/funding", r.token, body); st != 400 {
			t.Errorf("link without the current consent: %d", st)
		}
		body["consent_version"] = ConsentVersion
		if st, out := p.call("POST", "/v1/accounts/"+r.subject+"/funding", p.token, body); st != 403 {
			t.Errorf("an admin linked a rider's bank: %d %v", st, out)
		}
		st, out := p.call("POST", "/v1/accounts/"+r.subject+"/funding", r.token, body)
		if st != 201 || out["funding"] != "postpaid" || strings.Contains(out["account"].(string), r.account[:10]) {
			t.Fatalf("link: %d %v", st, out)
		}
		wantReason(t, "post-paid entry", gIn.send(proto.KindMetroEntry, p.assertion(r.face, gIn.dev)), proto.ReasonOK)
		wantReason(t, "post-paid exit", gOut.send(proto.KindMetroExit, p.assertion(r.face, gOut.dev)), proto.ReasonOK)
	}
	q, _ := p.fares.Price("hn2a-cat-linh", "hn2a-yen-nghia")
	fareAmt := q.Amount
	if got := p.balance(riders[1].subject); got != -fareAmt.IntPart() {
		t.Fatalf("owes %d after one journey of %s", got, fareAmt)
	}

	day := time.Now().In(fare.Zone).Format(time.DateOnly)
	st, out := p.call("POST", "/v1/collections/runs", p.token, map[string]any{"day": day})
	if st != 200 || out["planned"].(float64) != 3 || out["approved"].(float64) != 1 || out["declined"].(float64) != 1 || out["unknown"].(float64) != 1 {
		t.Fatalf("collection run: %d %v", st, out)
	}
	if got := p.balance(riders[0].subject); got != 0 {
		t.Errorf("approved rider's balance %d", got)
	}
	// The rider whose bank declined owes more than the limit: no entry
	// (the amount on the gate), but an exit would still open.
	d := gIn.send(proto.KindMetroEntry, p.assertion(riders[1].face, gIn.dev))
	wantReason(t, "in debt", d, proto.ReasonInDebt)
	if d.Display.EN != "Unpaid "+money.Format(fareAmt)+", please pay in the app" {
		t.Errorf("gate text %q", d.Display.EN)
	}
	// The late answer: asked again under the same key, approved once.
	time.Sleep(2 * time.Second)
	st, out = p.call("POST", "/v1/collections/runs", p.token, map[string]any{"day": day})
	if st != 200 || out["planned"].(float64) != 0 || out["approved"].(float64) != 1 {
		t.Fatalf("second run: %d %v", st, out)
	}
	if got := p.balance(riders[2].subject); got != 0 {
		t.Errorf("late-answer rider's balance %d", got)
	}
	// The indebted rider funds the bank account and pays in the app.
	big := decimal.NewFromInt(1_000_000)
	if _, err := sim.SetSource(ctx, payment.Bank, riders[1].account, paysim.SourceUpdate{Balance: &big, Behaviour: paysim.Approve}); err != nil {
		t.Fatal(err)
	}
	st, out = p.call("POST", "/v1/accounts/"+riders[1].subject+"/debt/payments", riders[1].token, map[string]any{"idempotency_key": "pay-1"})
	if st != 200 || out["payment"].(map[string]any)["status"] != "approved" || out["account"].(map[string]any)["in_debt"] != false {
		t.Fatalf("paying the debt: %d %v", st, out)
	}
	wantReason(t, "after paying", gIn.send(proto.KindMetroEntry, p.assertion(riders[1].face, gIn.dev)), proto.ReasonOK)
	wantReason(t, "after paying", gOut.send(proto.KindMetroExit, p.assertion(riders[1].face, gOut.dev)), proto.ReasonOK)

	st, out = p.call("GET", "/v1/reconciliation?day="+day, p.token, nil)
	if st != 200 || out["ok"] != true || out["provider_debits_matched"].(map[string]any)["paysim"].(float64) != 3 {
		t.Errorf("reconciliation: %d %v", st, out)
	}
	// Unlinking: refused while owing, allowed once paid.
	if st, _ := p.call("DELETE", "/v1/accounts/"+riders[1].subject+"/funding", riders[1].token, nil); st != 409 {
		t.Errorf("unlinked while owing: %d", st)
	}
	st, out = p.call("DELETE", "/v1/accounts/"+riders[0].subject+"/funding", riders[0].token, nil)
	if st != 200 || out["funding"] != "prepaid" {
		t.Errorf("unlink: %d %v", st, out)
	}
}
