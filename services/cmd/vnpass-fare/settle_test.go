package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
)

// call sends a JSON request to the API and decodes the JSON answer.
func (p *platform) call(method, path, token string, body any) (int, map[string]any) {
	p.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, p.apiURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Access-Reason", "end-to-end test") // the purpose of staff reads; riders need none
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestOperatorCorrectionClearingAndReconciliation: a rider who left without
// tapping out is charged the maximum fare; an operator corrects the journey
// to the station the rider really left by; the rider sees the correction,
// with its reason and who made it, in their history; the day's clearing
// report equals the ledger and the day reconciles.
func TestOperatorCorrectionClearingAndReconciliation(t *testing.T) {
	p := startPlatform(t)
	p.main.Proc.Sweep(context.Background()) // nothing open yet
	subject, face := p.rider("001099008877")
	in := p.rawGate("hn2a-lang", "hn2a-lang-in01")
	wantReason(t, "entry", in.send(proto.KindMetroEntry, p.assertion(face, in.dev)), proto.ReasonOK)
	// The rider never taps out; hours later the next entry closes the
	// journey at the maximum fare. The clock is moved by re-entering with
	// an entry that the service sees after MaxJourney: here the sweep is
	// run by hand with the journey backdated.
	if _, err := p.main.Store.Pool().Exec(context.Background(),
		"UPDATE journeys SET entry_at = entry_at - interval '5 hours' WHERE subject = $1", subject); err != nil {
		t.Fatal(err)
	}
	if n, err := p.main.Proc.Sweep(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep closed %d (%v)", n, err)
	}
	var id int64
	var exitAt time.Time
	if err := p.main.Store.Pool().QueryRow(context.Background(), "SELECT id, exit_at FROM journeys WHERE subject = $1", subject).Scan(&id, &exitAt); err != nil {
		t.Fatal(err)
	}
	before := p.balance(subject)

	rider, _ := p.main.Auth.Issue(subject, authjwt.RoleRider, time.Hour)
	op, _ := p.main.Auth.IssueFor("nguyen.lan", authjwt.RoleOperator, "hanoi-metro", time.Hour)
	body := map[string]any{"exit_stop": "hn2a-ha-dong", "reason": "CCTV: rider left at Hà Đông", "idempotency_key": "ticket-1"}
	if st, out := p.call("POST", fmt.Sprintf("/v1/journeys/%d/corrections", id), rider, body); st != 403 {
		t.Errorf("a rider corrected a fare: %d %v", st, out)
	}
	st, out := p.call("POST", fmt.Sprintf("/v1/journeys/%d/corrections", id), op, body)
	q, _ := p.fares.PriceFor(fare.Query{From: "hn2a-lang", To: "hn2a-ha-dong", At: time.Now()})
	if st != 201 || int64(out["fare_vnd"].(float64)) != q.Amount.IntPart() || out["corrected_by"] != "operator:nguyen.lan" {
		t.Fatalf("correction: %d %v", st, out)
	}
	if st, _ := p.call("POST", fmt.Sprintf("/v1/journeys/%d/corrections", id), op, body); st != 200 {
		t.Errorf("repeated correction: %d", st)
	}
	if st, out := p.call("POST", fmt.Sprintf("/v1/journeys/%d/corrections", id), op, map[string]any{"fare_vnd": -5, "reason": "x", "idempotency_key": "k"}); st != 400 {
		t.Errorf("bad correction accepted: %d %v", st, out)
	}
	after := p.balance(subject)
	maxFare := p.fares.MaxFareFor("hn2a", "adult")
	if after-before != maxFare.Sub(q.Amount).IntPart() {
		t.Errorf("balance %d -> %d, want the difference %s - %s back", before, after, maxFare, q.Amount)
	}
	st, out = p.call("GET", "/v1/accounts/"+subject+"/history", rider, nil)
	if st != 200 || !strings.Contains(fmt.Sprint(out["postings"]), "CCTV: rider left at Hà Đông (by operator:nguyen.lan)") {
		t.Errorf("history: %d %v", st, out)
	}
	other, _ := p.main.Auth.Issue("vn_someone_else", authjwt.RoleRider, time.Hour)
	if st, _ := p.call("GET", "/v1/accounts/"+subject+"/history", other, nil); st != 403 {
		t.Errorf("another rider read the history: %d", st)
	}
	day := time.Now().In(fare.Zone).Format(time.DateOnly)
	st, out = p.call("GET", "/v1/clearing?day="+day, op, nil)
	ops, _ := out["operators"].([]any)
	if st != 200 || len(ops) != 1 || ops[0].(map[string]any)["equals_ledger"] != true ||
		int64(ops[0].(map[string]any)["total_vnd"].(float64)) != q.Amount.IntPart() {
		t.Errorf("clearing: %d %v", st, out)
	}
	if st, _ := p.call("GET", "/v1/reconciliation?day="+day, op, nil); st != 403 {
		t.Errorf("an operator ran reconciliation: %d", st)
	}
	// The journey belongs to the day it ended (the ledger's movements to
	// the day they were posted, which is today).
	st, out = p.call("GET", "/v1/reconciliation?day="+exitAt.In(fare.Zone).Format(time.DateOnly), p.token, nil)
	if st != 200 || out["ok"] != true || out["journeys_priced"].(float64) != 1 {
		t.Errorf("reconciliation: %d %v", st, out)
	}
	if st, _ := p.call("GET", "/v1/clearing?day=24-11-2026", op, nil); st != 400 {
		t.Errorf("bad day accepted: %d", st)
	}

	// Account states: suspended by staff with a reason, refused at the
	// gate, reinstated; closing needs a settled balance.
	status := func(tok, s string) int {
		st, _ := p.call("PUT", "/v1/accounts/"+subject+"/status", tok, map[string]any{"status": s, "reason": "fraud check #12"})
		return st
	}
	if st := status(rider, "active"); st != 403 {
		t.Errorf("a rider changed their status: %d", st)
	}
	if st := status(op, "suspended"); st != 403 {
		t.Errorf("an operator suspended an account: %d, want 403 (admins only)", st)
	}
	if st := status(p.token, "suspended"); st != 200 {
		t.Fatalf("suspend: %d", st)
	}
	wantReason(t, "suspended", in.send(proto.KindMetroEntry, p.assertion(face, in.dev)), proto.ReasonAccountSuspended)
	if st := status(p.token, "active"); st != 200 {
		t.Fatalf("reinstate: %d", st)
	}
	wantReason(t, "reinstated", in.send(proto.KindMetroEntry, p.assertion(face, in.dev)), proto.ReasonOK)
	if st := status(p.token, "closed"); st != 409 {
		t.Errorf("closed with money on the account: %d", st)
	}
}
