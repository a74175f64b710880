package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/headless"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
)

// TestMissedTapOutDisputedAndRefunded: a rider who never tapped out is
// charged the maximum fare; they see why in their journeys and dispute it;
// the dispute reaches the operators' queue; an operator refunds it through
// the ledger; the rider sees the outcome, their balance and this month's
// statement show the refund, the statement's totals equal the ledger and
// the ledger balances. The consents the rider gave partners are in the view.
func TestMissedTapOutDisputedAndRefunded(t *testing.T) {
	p := startPlatform(t)
	ctx := context.Background()
	subject, face := p.rider("001099001212")
	in := p.rawGate("hn2a-lang", "hn2a-lang-in03")
	wantReason(t, "entry", in.send(proto.KindMetroEntry, p.assertion(face, in.dev)), proto.ReasonOK)
	if _, err := p.main.Store.Pool().Exec(ctx, "UPDATE journeys SET entry_at = entry_at - interval '5 hours' WHERE subject = $1", subject); err != nil {
		t.Fatal(err)
	}
	if n, err := p.main.Proc.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep closed %d (%v)", n, err)
	}
	maxFare := p.fares.MaxFareFor("hn2a", "adult").IntPart()
	rider, _ := p.main.Auth.Issue(subject, authjwt.RoleRider, time.Hour)
	op, _ := p.main.Auth.IssueFor("nguyen.lan", authjwt.RoleOperator, "hanoi-metro", time.Hour)

	st, out := p.call("GET", "/v1/me/journeys", rider, nil)
	js, _ := out["journeys"].([]any)
	if st != 200 || len(js) != 1 {
		t.Fatalf("journeys: %d %v", st, out)
	}
	j := js[0].(map[string]any)
	id := int64(j["journey_id"].(float64))
	if j["status"] != "incomplete" || j["fare_rule"] != admission.RuleMissingExit || int64(j["paid_vnd"].(float64)) != maxFare ||
		j["disputable"] != true || !strings.Contains(fmt.Sprint(j["explanation"]), "Thiếu lượt ra") {
		t.Errorf("the missed tap-out as the rider sees it: %v", j)
	}
	st, out = p.call("POST", "/v1/me/disputes", rider, map[string]any{"kind": "journey", "charge_id": id,
		"reason": "Tôi ra ở ga Thái Hà nhưng cổng không nhận mặt · I left at Thái Hà, the gate did not read my face"})
	if st != 201 || out["status"] != "open" || int64(out["charged_vnd"].(float64)) != maxFare {
		t.Fatalf("dispute: %d %v", st, out)
	}
	did := int64(out["id"].(float64))

	st, out = p.call("GET", "/v1/disputes?status=open", op, nil)
	queue, _ := out["disputes"].([]any)
	if st != 200 || len(queue) != 1 || queue[0].(map[string]any)["subject"] != subject {
		t.Fatalf("operators' queue: %d %v", st, out)
	}
	before := p.balance(subject)
	st, out = p.call("POST", fmt.Sprintf("/v1/disputes/%d/resolution", did), op, map[string]any{
		"outcome": "refund", "reason": "Camera xác nhận · CCTV confirms the exit at Thái Hà"})
	if st != 200 || out["status"] != "refunded" || int64(out["refund_vnd"].(float64)) != maxFare {
		t.Fatalf("refund: %d %v", st, out)
	}
	if st, _ := p.call("POST", fmt.Sprintf("/v1/disputes/%d/resolution", did), op, map[string]any{
		"outcome": "refund", "reason": "again"}); st != 409 {
		t.Errorf("refunded twice: %d", st)
	}
	if got := p.balance(subject); got-before != maxFare || got != 100_000 {
		t.Errorf("balance %d -> %d, want the maximum fare %d back", before, got, maxFare)
	}

	st, out = p.call("GET", "/v1/me/disputes", rider, nil)
	ds, _ := out["disputes"].([]any)
	if st != 200 || len(ds) != 1 || ds[0].(map[string]any)["status"] != "refunded" ||
		ds[0].(map[string]any)["resolution"] != "Camera xác nhận · CCTV confirms the exit at Thái Hà" {
		t.Errorf("the rider's view of the outcome: %d %v", st, out)
	}
	st, out = p.call("GET", "/v1/me", rider, nil)
	if st != 200 || int64(out["balance_vnd"].(float64)) != 100_000 || out["open_disputes"].(float64) != 0 {
		t.Errorf("me: %d %v", st, out)
	}
	st, out = p.call("GET", "/v1/me/history", rider, nil)
	if st != 200 || !strings.Contains(fmt.Sprint(out["postings"]), "dispute #") {
		t.Errorf("history: %d %v", st, out)
	}

	// This month's statement: the refund in it, its totals the ledger's.
	month := time.Now().In(fare.Zone).Format("2006-01")
	st, out = p.call("GET", "/v1/me/statements/"+month+"?format=json", rider, nil)
	byKind, _ := out["by_kind_vnd"].(map[string]any)
	if st != 200 || int64(byKind["refund"].(float64)) != maxFare || int64(byKind["fare"].(float64)) != -maxFare ||
		int64(byKind["topup"].(float64)) != 100_000 || int64(out["closing_vnd"].(float64)) != 100_000 {
		t.Errorf("statement: %d %v", st, out)
	}
	var ledgerIn, ledgerOut int64
	if err := p.main.Store.Pool().QueryRow(ctx, `SELECT coalesce(sum(amount) FILTER (WHERE amount > 0), 0)::bigint,
		coalesce(-sum(amount) FILTER (WHERE amount < 0), 0)::bigint FROM ledger_entries WHERE account_id = $1`, "rider:"+subject).
		Scan(&ledgerIn, &ledgerOut); err != nil {
		t.Fatal(err)
	}
	if int64(out["in_vnd"].(float64)) != ledgerIn || int64(out["out_vnd"].(float64)) != ledgerOut {
		t.Errorf("statement in %v out %v, ledger in %d out %d", out["in_vnd"], out["out_vnd"], ledgerIn, ledgerOut)
	}
	req, _ := http.NewRequest("GET", p.apiURL+"/v1/me/statements/"+month, nil)
	req.Header.Set("Authorization", "Bearer "+rider)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(html), "Hoàn tiền") || !strings.Contains(string(html), money.Format(money.Dong(maxFare))) ||
		!strings.Contains(string(html), `id="closing">100.000 ₫`) {
		t.Errorf("printable statement:\n%s", html)
	}
	b, err := p.main.Store.Books(ctx)
	if err != nil || !b.Balanced() {
		t.Errorf("books: %+v %v", b, err)
	}

	// The consents the rider gave to partners are in their view too.
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := p.main.Partners.Store.RegisterPartner(ctx, partner.Partner{ID: "vetau-app", Name: "Vé tàu", Kind: partner.KindTicketing,
		PublicKey: pub, Scopes: []partner.Scope{partner.ScopeTickets}, RatePerMin: 60}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.main.Partners.Store.GrantConsent(ctx, "vetau-app", subject, []partner.Scope{partner.ScopeTickets},
		time.Now().AddDate(0, 6, 0)); err != nil {
		t.Fatal(err)
	}
	st, out = p.call("GET", "/v1/me", rider, nil)
	if cs, _ := out["consents"].([]any); st != 200 || len(cs) != 1 || cs[0].(map[string]any)["partner"] != "vetau-app" ||
		fmt.Sprint(cs[0].(map[string]any)["scopes"]) != "[tickets]" {
		t.Errorf("consents in the rider's view: %d %v", st, out["consents"])
	}
}

// TestRiderPageOnAPhone: the rider's page in headless Chromium at a
// phone's viewport (360x740) shows the seeded rider's balance and today's
// trip (not another rider's), says why the rider paid what they paid, and
// files a dispute that reaches the operators' queue. Screenshots are saved
// under .run/screenshots/ (or $VNPASS_SCREENSHOTS).
func TestRiderPageOnAPhone(t *testing.T) {
	p := startPlatform(t)
	subject, face := p.rider("001090055555")
	other, otherFace := p.rider("001090066666")
	in := p.rawGate("hn2a-cat-linh", "hn2a-cat-linh-in05")
	out := p.rawGate("hn2a-yen-nghia", "hn2a-yen-nghia-out05")
	wantReason(t, "entry", in.send(proto.KindMetroEntry, p.assertion(face, in.dev)), proto.ReasonOK)
	wantReason(t, "exit", out.send(proto.KindMetroExit, p.assertion(face, out.dev)), proto.ReasonOK)
	wantReason(t, "other's entry", in.send(proto.KindMetroEntry, p.assertion(otherFace, in.dev)), proto.ReasonOK)
	_ = other
	// A parking session through the barriers of a shipped lot (open all day).
	parkedAt := time.Now()
	parkFee := parkThrough(t, p, "hnp-cat-linh", "05", face, "29B1-555.55")

	shots := os.Getenv("VNPASS_SCREENSHOTS")
	if shots == "" {
		root, err := testenv.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		shots = filepath.Join(root, ".run", "screenshots")
	}
	shots = filepath.Join(shots, t.Name())
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b, err := headless.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	defer func() {
		if t.Failed() {
			b.Screenshot(context.Background(), filepath.Join(shots, "failed.png"), true)
			t.Logf("page console: %v", b.Logs())
		}
	}()
	if err := b.Viewport(ctx, 360, 740, 1); err != nil {
		t.Fatal(err)
	}
	tok, _ := p.main.Auth.Issue(subject, authjwt.RoleRider, time.Hour)
	start := time.Now()
	if err := b.Navigate(ctx, p.apiURL+"/rider/#token="+tok); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.body.dataset.ready === "1"`); err != nil {
		t.Fatal(err)
	}
	t.Logf("page ready in %s", time.Since(start).Round(time.Millisecond))
	var page struct {
		Balance string   `json:"balance"`
		Trips   []string `json:"trips"`
		Hash    string   `json:"hash"`
		Width   int      `json:"width"`
		Scroll  int      `json:"scroll"`
	}
	if err := b.Eval(ctx, `({balance: document.getElementById("balance").textContent,
		trips: [...document.querySelectorAll("#trips li.trip .route")].map(e => e.textContent),
		hash: location.hash, width: innerWidth, scroll: document.documentElement.scrollWidth})`, &page); err != nil {
		t.Fatal(err)
	}
	q, _ := p.fares.PriceFor(fare.Query{From: "hn2a-cat-linh", To: "hn2a-yen-nghia", At: time.Now()})
	wantBalance := money.Format(money.Dong(100_000).Sub(q.Amount).Sub(money.Dong(parkFee)))
	if page.Balance != wantBalance || len(page.Trips) != 1 || page.Trips[0] != "Cát Linh → Yên Nghĩa" || page.Hash != "" ||
		page.Width != 360 || page.Scroll > 360 {
		t.Errorf("page: %+v, want balance %s and one trip Cát Linh → Yên Nghĩa, no token in the URL, no sideways scroll", page, wantBalance)
	}
	if err := b.Screenshot(ctx, filepath.Join(shots, "1-trips.png"), false); err != nil {
		t.Fatal(err)
	}

	// The parking session: lot, plate, times, fee and why.
	var pk struct {
		Lots  []string `json:"lots"`
		When  string   `json:"when"`
		Amt   string   `json:"amt"`
		Why   string   `json:"why"`
		Shown bool     `json:"shown"`
	}
	if err := b.Eval(ctx, `(() => { const li = document.querySelector("#parking li.park");
		if (li) li.querySelector(".why").click();
		return {lots: [...document.querySelectorAll("#parking li.park .route")].map(e => e.textContent),
		shown: !document.getElementById("parking-card").hidden,
		when: li ? li.querySelector(".when").textContent : "", amt: li ? li.querySelector(".amt").textContent : "",
		why: li ? li.querySelector(".expl").textContent : ""}; })()`, &pk); err != nil {
		t.Fatal(err)
	}
	if !pk.Shown || len(pk.Lots) != 1 || pk.Lots[0] != "Bãi xe ga Cát Linh" || !strings.Contains(pk.When, "29B155555") ||
		!strings.Contains(pk.When, "Xe máy") || !strings.Contains(pk.When, parkedAt.In(fare.Zone).Format("15:")) || pk.Amt != money.Format(money.Dong(parkFee)) || (parkFee > 0 && pk.Why == "") {
		t.Errorf("parking on the page: %+v, want the session at Bãi xe ga Cát Linh, 29B155555, %d ₫ and why", pk, parkFee)
	}
	if err := b.Screenshot(ctx, filepath.Join(shots, "1b-parking.png"), true); err != nil {
		t.Fatal(err)
	}
	b.Eval(ctx, `document.querySelector("#parking li.park .why").click()`, nil) // folded again

	// Why did I pay this?
	if err := b.Click(ctx, "#trips li.trip .why"); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.querySelector("#trips .expl p")`); err != nil {
		t.Fatal(err)
	}
	var why string
	b.Eval(ctx, `document.querySelector("#trips .expl").textContent`, &why)
	if !strings.Contains(why, "Giá vé Cát Linh → Yên Nghĩa: "+money.Format(q.Amount)) || !strings.Contains(why, "Cat Linh") && !strings.Contains(why, "Cát Linh") {
		t.Errorf("explanation: %q", why)
	}
	if err := b.Screenshot(ctx, filepath.Join(shots, "2-why.png"), false); err != nil {
		t.Fatal(err)
	}

	// Dispute it.
	if err := b.Click(ctx, "#trips li.trip .dispute"); err != nil {
		t.Fatal(err)
	}
	if err := b.Type(ctx, "#trips li.trip textarea", "Tôi chỉ đi đến Hà Đông · I only rode to Hà Đông"); err != nil {
		t.Fatal(err)
	}
	if err := b.Click(ctx, `#trips li.trip button[type=submit]`); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.querySelector("#disputes li.dispute-item") && !document.getElementById("disputes-card").hidden`); err != nil {
		t.Fatal(err)
	}
	if err := b.Screenshot(ctx, filepath.Join(shots, "3-disputed.png"), true); err != nil {
		t.Fatal(err)
	}
	op, _ := p.main.Auth.IssueFor("tran.minh", authjwt.RoleOperator, "hanoi-metro", time.Hour)
	st, res := p.call("GET", "/v1/disputes?status=open", op, nil)
	queue, _ := res["disputes"].([]any)
	if st != 200 || len(queue) != 1 || queue[0].(map[string]any)["subject"] != subject ||
		queue[0].(map[string]any)["reason"] != "Tôi chỉ đi đến Hà Đông · I only rode to Hà Đông" {
		t.Errorf("the dispute filed on the page: %d %v", st, res)
	}
	var size int
	b.Eval(ctx, `performance.getEntriesByType("resource").concat(performance.getEntriesByType("navigation"))
		.filter(e => !e.name.includes("/v1/")).reduce((s, e) => s + e.transferSize, 0)`, &size)
	if size > 20<<10 {
		t.Errorf("the page weighs %d bytes over the wire, want under 20 KB", size)
	}
	if logs := b.Logs(); len(logs) > 0 {
		t.Errorf("page console: %v", logs)
	}

	// This month's statement, printable, as the phone shows it.
	month := time.Now().In(fare.Zone).Format("2006-01")
	if err := b.Eval(ctx, `fetch("/v1/me/statements/`+month+`", {headers: {Authorization: "Bearer " + sessionStorage.getItem("vnpass.token")}})
		.then(r => r.text()).then(h => { document.open(); document.write(h); document.close(); })`, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.getElementById("closing")`); err != nil {
		t.Fatal(err)
	}
	var closing string
	b.Eval(ctx, `document.getElementById("closing").textContent`, &closing)
	if closing != wantBalance {
		t.Errorf("statement's closing balance %q, want %q", closing, wantBalance)
	}
	if err := b.Screenshot(ctx, filepath.Join(shots, "4-statement.png"), true); err != nil {
		t.Fatal(err)
	}
	t.Logf("page %d bytes; screenshots in %s", size, shots)
}

// parkThrough parks the rider (face) at lot through an entry and an exit
// barrier (devices <lot>-in<n>, <lot>-out<n>) with the plate, and returns
// the fee the exit barrier charged.
func parkThrough(t *testing.T, p *platform, lot, n, face, plate string) int64 {
	t.Helper()
	var fee int64
	for _, step := range []struct {
		g    *gate
		kind proto.Kind
	}{{p.rawGate(lot, lot+"-in"+n), proto.KindParkingEntry}, {p.rawGate(lot, lot+"-out"+n), proto.KindParkingExit}} {
		now := time.Now()
		tp := proto.Tap{EventID: proto.NewEventID(now), Device: step.g.dev, Site: step.g.site, Kind: step.kind,
			Assertion: p.assertion(face, step.g.dev), CapturedAt: proto.At(now), Plate: plate}
		b, err := tp.Encode()
		if err != nil {
			t.Fatal(err)
		}
		step.g.publish(b)
		d := step.g.decision(tp.EventID)
		wantReason(t, string(step.kind), d, proto.ReasonOK)
		if d.FareVND != nil {
			fee = *d.FareVND
		}
	}
	return fee
}
