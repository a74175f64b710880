package riderhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/accounthttp"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/disputepg"
	"github.com/vnpass/vnpass/services/farehttp"
	"github.com/vnpass/vnpass/services/riderhttp"
	"github.com/vnpass/vnpass/services/settlepg"
)

// verifier stands in for VNeID: tokens are "<subject>.<jti>.<device>".
type verifier struct{ now func() time.Time }

func (v verifier) Verify(_ context.Context, token, device string) (identity.Assertion, error) {
	p := strings.Split(token, ".")
	return identity.Assertion{Subject: p[0], JTI: p[1], Audience: device, ExpiresAt: v.now().Add(time.Minute), Level: 2, Age: 30}, nil
}

type env struct {
	t     *testing.T
	app   *fiber.App
	store *settlepg.Store
	proc  *admission.Processor
	auth  *authjwt.Issuer
	fares *fare.Table
	mu    sync.Mutex
	now   time.Time
	n     int
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, now: time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)}
	url := testenv.PostgresURL(t)
	s, err := settlepg.Open(ctx, url, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ds, err := disputepg.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ds.Close)
	if e.fares, err = fare.LoadGTFS(fare.HanoiData()); err != nil {
		t.Fatal(err)
	}
	if e.proc, err = admission.New(admission.Config{Verifier: verifier{e.clock}, Fares: e.fares, Store: s, Now: e.clock}); err != nil {
		t.Fatal(err)
	}
	if e.auth, err = authjwt.New([]byte(strings.Repeat("k", 32)), e.clock); err != nil {
		t.Fatal(err)
	}
	e.store = s
	e.app = accounthttp.New(accounthttp.Config{Accounts: s, Auth: e.auth, Now: e.clock, Audit: s,
		Routes: []func(fiber.Router){
			farehttp.Routes(farehttp.Config{Fares: e.fares, Journeys: s, Now: e.clock}),
			riderhttp.Routes(riderhttp.Config{Store: s, Disputes: ds, Fares: e.fares, Now: e.clock}),
		},
		Public: []func(fiber.Router){riderhttp.Page()},
	})
	return e
}

func (e *env) rider(sub string, topUp int64) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.store.OpenRiderAccount(ctx, sub); err != nil {
		e.t.Fatal(err)
	}
	tx, _ := ledger.Transfer("topup:"+sub, "topup", "top-up via sim", ledger.ProviderSettlement("sim"), ledger.Rider(sub), money.Dong(topUp))
	if err := e.store.Post(ctx, tx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) tap(kind proto.Kind, site, sub string) {
	e.t.Helper()
	e.advance(time.Minute)
	e.n++
	dev := site + "-g01"
	now := e.clock()
	tp := proto.Tap{EventID: proto.NewEventID(now), Device: dev, Site: site, Kind: kind,
		Assertion: fmt.Sprintf("%s.jti%d.%s", sub, e.n, dev), CapturedAt: proto.At(now)}
	b, _ := tp.Encode()
	r, err := e.proc.Handle(context.Background(), proto.Topics{}.Taps(site, dev), b)
	if err != nil {
		e.t.Fatal(err)
	}
	if d, _ := proto.DecodeDecision(r.Payload); !d.Open {
		e.t.Fatalf("%s at %s refused: %s", sub, site, d.Reason)
	}
}

func (e *env) ride(sub, from, to string) {
	e.tap(proto.KindMetroEntry, from, sub)
	e.tap(proto.KindMetroExit, to, sub)
}

// missedExit: an entry with no exit, swept to the maximum fare.
func (e *env) missedExit(sub, from string) {
	e.t.Helper()
	e.tap(proto.KindMetroEntry, from, sub)
	e.advance(5 * time.Hour)
	if _, err := e.proc.Sweep(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// operator is a token of an operator's staff scoped to operator.
func (e *env) operator(sub, operator string) string {
	tok, err := e.auth.IssueFor(sub, authjwt.RoleOperator, operator, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) token(sub string, role authjwt.Role) string {
	tok, err := e.auth.Issue(sub, role, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// call sends a request and decodes a JSON answer into out (when not nil).
func (e *env) call(method, path, tok string, body any, out any) (int, string) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(accounthttp.ReasonHeader, "rider's dispute")
	resp, err := e.app.Test(req, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

func (e *env) journeyIDs(sub string) []int64 {
	js, err := e.store.RiderJourneys(context.Background(), settlepg.JourneyFilter{Subject: sub})
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make([]int64, len(js))
	for i, j := range js {
		ids[i] = j.ID
	}
	return ids
}

type me struct {
	Subject      string `json:"subject"`
	BalanceVND   int64  `json:"balance_vnd"`
	OpenDisputes int    `json:"open_disputes"`
	Passes       []struct {
		ProductID string `json:"product_id"`
		ValidNow  bool   `json:"valid_now"`
	} `json:"passes"`
	Funding struct {
		Funding string `json:"funding"`
	} `json:"funding"`
}

type journeys struct {
	Journeys []struct {
		JourneyID  int64  `json:"journey_id"`
		FareRule   string `json:"fare_rule"`
		ChargedVND int64  `json:"charged_vnd"`
		PaidVND    int64  `json:"paid_vnd"`
		Disputable bool   `json:"disputable"`
		Status     string `json:"status"`
		Dispute    *struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"dispute"`
	} `json:"journeys"`
	NextBefore int64 `json:"next_before"`
}

type disputeView struct {
	ID         int64  `json:"id"`
	ChargeID   int64  `json:"charge_id"`
	ChargedVND int64  `json:"charged_vnd"`
	Status     string `json:"status"`
	Resolution string `json:"resolution"`
	ResolvedBy string `json:"resolved_by"`
	RefundVND  int64  `json:"refund_vnd"`
	RefundTx   int64  `json:"refund_transaction_id"`
	Subject    string `json:"subject"`
	Events     []struct {
		By     string `json:"by"`
		Status string `json:"status"`
	} `json:"events"`
}

// TestRidersSeeOnlyTheirOwn: every rider route, asked with one rider's
// token about another rider's journeys and disputes, answers nothing of
// theirs; staff tokens do not read /v1/me; the queue and resolutions are
// staff only.
func TestRidersSeeOnlyTheirOwn(t *testing.T) {
	e := newEnv(t)
	e.rider("vn_an", 100000)
	e.rider("vn_binh", 70000)
	e.ride("vn_an", "hn2a-cat-linh", "hn2a-ha-dong")
	e.ride("vn_binh", "hn2a-lang", "hn2a-yen-nghia")
	e.missedExit("vn_binh", "hn2a-la-thanh")
	an, binh := e.token("vn_an", authjwt.RoleRider), e.token("vn_binh", authjwt.RoleRider)
	op, admin := e.operator("lan", "hanoi-metro"), e.token("root", authjwt.RoleAdmin)
	anJ, binhJ := e.journeyIDs("vn_an"), e.journeyIDs("vn_binh")
	if len(anJ) != 1 || len(binhJ) != 2 {
		t.Fatalf("journeys: %v %v", anJ, binhJ)
	}

	var m me
	if st, b := e.call("GET", "/v1/me", an, nil, &m); st != 200 || m.Subject != "vn_an" || m.BalanceVND >= 100000 || m.Funding.Funding != "prepaid" {
		t.Errorf("me: %d %s", st, b)
	}
	for _, tok := range []string{op, admin} {
		if st, _ := e.call("GET", "/v1/me", tok, nil, nil); st != 403 {
			t.Errorf("staff read /v1/me: %d", st)
		}
	}
	if st, _ := e.call("GET", "/v1/me", "", nil, nil); st != 401 {
		t.Errorf("no token: %d", st)
	}
	if st, _ := e.call("GET", "/v1/me", e.token("vn_nobody", authjwt.RoleRider), nil, nil); st != 404 {
		t.Errorf("a rider with no account: %d", st)
	}

	var js journeys
	if st, b := e.call("GET", "/v1/me/journeys", an, nil, &js); st != 200 || len(js.Journeys) != 1 || js.Journeys[0].JourneyID != anJ[0] {
		t.Errorf("an's journeys: %d %s", st, b)
	}
	if st, b := e.call("GET", fmt.Sprintf("/v1/me/journeys?before=%d&from=2026-11-01&to=2026-11-30", binhJ[0]+1), an, nil, &js); st != 200 ||
		len(js.Journeys) != 1 || js.Journeys[0].JourneyID != anJ[0] {
		t.Errorf("an's journeys paged past binh's ids: %d %s", st, b)
	}
	if st, b := e.call("GET", "/v1/me/journeys?from=2026-11-30&to=2026-11-01", an, nil, nil); st != 400 {
		t.Errorf("backwards range: %d %s", st, b)
	}
	if st, b := e.call("GET", "/v1/me/parking", an, nil, nil); st != 200 || !strings.Contains(b, `"sessions":[]`) {
		t.Errorf("parking without the parking store: %d %s", st, b)
	}
	var hist struct {
		Postings []struct {
			TransactionID int64 `json:"transaction_id"`
			JourneyID     int64 `json:"journey_id"`
			Kind          string
		} `json:"postings"`
	}
	e.call("GET", "/v1/me/history", an, nil, &hist)
	if len(hist.Postings) != 2 {
		t.Errorf("an's history: %+v", hist)
	}
	for _, p := range hist.Postings {
		if p.JourneyID != 0 && p.JourneyID != anJ[0] {
			t.Errorf("another rider's posting in the history: %+v", p)
		}
	}
	st, html := e.call("GET", "/v1/me/statements/2026-11", an, nil, nil)
	if st != 200 || !strings.Contains(html, "vn_an") || strings.Contains(html, "vn_binh") || strings.Contains(html, fmt.Sprintf("#%d", binhJ[0])) {
		t.Errorf("an's statement: %d", st)
	}

	// Another rider's journey: not found, whatever the route.
	for _, id := range binhJ {
		if st, b := e.call("POST", "/v1/me/disputes", an, map[string]any{"kind": "journey", "charge_id": id, "reason": "not mine"}, nil); st != 404 {
			t.Errorf("an disputed binh's journey %d: %d %s", id, st, b)
		}
		if st, _ := e.call("GET", fmt.Sprintf("/v1/journeys/%d/explanation", id), an, nil, nil); st != 404 {
			t.Errorf("an read binh's explanation: %d", st)
		}
	}
	var bd disputeView
	if st, b := e.call("POST", "/v1/me/disputes", binh, map[string]any{"journey_id": binhJ[0], "reason": "I tapped out at La Thành"}, &bd); st != 201 || bd.Status != "open" {
		t.Fatalf("binh's dispute: %d %s", st, b)
	}
	if bd.Subject != "" {
		t.Errorf("the rider's own view names the subject: %+v", bd)
	}
	if st, _ := e.call("POST", "/v1/me/disputes", binh, map[string]any{"journey_id": binhJ[0], "reason": "again"}, nil); st != 409 {
		t.Errorf("second dispute of one charge: %d", st)
	}
	if st, _ := e.call("GET", fmt.Sprintf("/v1/disputes/%d", bd.ID), an, nil, nil); st != 404 {
		t.Errorf("an read binh's dispute: %d", st)
	}
	if st, _ := e.call("GET", fmt.Sprintf("/v1/disputes/%d", bd.ID), binh, nil, nil); st != 200 {
		t.Errorf("binh read their dispute: %d", st)
	}
	var list struct {
		Disputes []disputeView `json:"disputes"`
	}
	if e.call("GET", "/v1/me/disputes", an, nil, &list); len(list.Disputes) != 0 {
		t.Errorf("an sees disputes: %+v", list)
	}
	if e.call("GET", "/v1/me", an, nil, &m); m.OpenDisputes != 0 {
		t.Errorf("an's open disputes: %d", m.OpenDisputes)
	}
	if st, _ := e.call("GET", "/v1/disputes", an, nil, nil); st != 403 {
		t.Errorf("a rider read the queue: %d", st)
	}
	for _, tok := range []string{an, binh} {
		if st, _ := e.call("POST", fmt.Sprintf("/v1/disputes/%d/resolution", bd.ID), tok, map[string]any{"outcome": "refund", "reason": "ok"}, nil); st != 403 {
			t.Errorf("a rider resolved a dispute: %d", st)
		}
	}
	if e.call("GET", "/v1/disputes?status=open", op, nil, &list); len(list.Disputes) != 1 || list.Disputes[0].Subject != "vn_binh" {
		t.Errorf("operator's queue: %+v", list)
	}
	if st, _ := e.call("GET", "/v1/disputes?status=lost", op, nil, nil); st != 400 {
		t.Errorf("bad status filter: %d", st)
	}
	// Another operator's staff see none of Line 2A's disputes, not even
	// that they exist; a token naming no operator gets nothing.
	hcm := e.operator("minh", "hurc1")
	if st, b := e.call("GET", "/v1/disputes?status=open", hcm, nil, &list); st != 200 || len(list.Disputes) != 0 {
		t.Errorf("another operator's queue: %d %s", st, b)
	}
	if st, _ := e.call("GET", fmt.Sprintf("/v1/disputes/%d", bd.ID), hcm, nil, nil); st != 404 {
		t.Errorf("another operator reads a Line 2A dispute: %d, want 404", st)
	}
	if st, _ := e.call("POST", fmt.Sprintf("/v1/disputes/%d/resolution", bd.ID), hcm, map[string]any{"outcome": "reject", "reason": "not ours to judge"}, nil); st != 404 {
		t.Errorf("another operator resolves a Line 2A dispute: %d, want 404", st)
	}
	unscoped := e.token("lan", authjwt.RoleOperator)
	for _, path := range []string{"/v1/disputes", fmt.Sprintf("/v1/disputes/%d", bd.ID)} {
		if st, _ := e.call("GET", path, unscoped, nil, nil); st != 403 {
			t.Errorf("an operator token naming no operator on %s: %d, want 403", path, st)
		}
	}
	if st, _ := e.call("GET", fmt.Sprintf("/v1/disputes/%d", bd.ID), op, nil, nil); st != 200 {
		t.Errorf("the line's operator reads its dispute: %d", st)
	}

	// The page is public (it holds no data); its API calls are not.
	st, page := e.call("GET", "/rider/", "", nil, nil)
	if st != 200 || !strings.Contains(page, "Chuyến đi hôm nay") || !strings.Contains(page, "Today's trips") {
		t.Errorf("page: %d", st)
	}
	if st, _ := e.call("GET", "/rider/app.js", "", nil, nil); st != 200 {
		t.Errorf("script: %d", st)
	}
}

// TestDisputeResolution: refunded through the ledger once whatever is
// retried or raced; rejected with a reason; the rider sees each outcome.
func TestDisputeResolution(t *testing.T) {
	e := newEnv(t)
	e.rider("vn_chi", 100000)
	e.ride("vn_chi", "hn2a-cat-linh", "hn2a-la-thanh")
	e.missedExit("vn_chi", "hn2a-thai-ha")
	ids := e.journeyIDs("vn_chi") // newest first
	chi, op := e.token("vn_chi", authjwt.RoleRider), e.operator("lan", "hanoi-metro")
	maxFare := e.fares.MaxFareFor("hn2a", "adult").IntPart()

	var js journeys
	e.call("GET", "/v1/me/journeys", chi, nil, &js)
	if len(js.Journeys) != 2 || js.Journeys[0].Status != "incomplete" || js.Journeys[0].PaidVND != maxFare || !js.Journeys[0].Disputable {
		t.Fatalf("journeys: %+v", js)
	}
	var d1, d2 disputeView
	e.call("POST", "/v1/me/disputes", chi, map[string]any{"journey_id": ids[0], "reason": "I left at Láng, the gate did not read me"}, &d1)
	e.call("POST", "/v1/me/disputes", chi, map[string]any{"journey_id": ids[1], "reason": "too expensive"}, &d2)
	if d1.ChargedVND != maxFare || d2.ID == 0 {
		t.Fatalf("disputes: %+v %+v", d1, d2)
	}
	before := e.balance("vn_chi")

	// Two operators answer at once, one refunding, one rejecting: one wins.
	path := fmt.Sprintf("/v1/disputes/%d/resolution", d1.ID)
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := map[string]any{"outcome": "refund", "amount_vnd": maxFare - 9000, "reason": "CCTV shows the exit at Láng"}
			if i == 3 {
				body = map[string]any{"outcome": "reject", "reason": "the gate log shows no exit"}
			}
			codes[i], _ = e.call("POST", path, op, body, nil)
		}()
	}
	wg.Wait()
	var got disputeView
	e.call("GET", fmt.Sprintf("/v1/disputes/%d", d1.ID), chi, nil, &got)
	wins := 0
	for _, c := range codes {
		if c == 200 {
			wins++
		} else if c != 409 {
			t.Errorf("resolution answered %d", c)
		}
	}
	if wins != 1 {
		t.Errorf("%d resolutions won: %v", wins, codes)
	}
	after := e.balance("vn_chi")
	switch got.Status {
	case "refunded":
		if after-before != maxFare-9000 || got.RefundVND != maxFare-9000 || got.RefundTx == 0 || got.ResolvedBy != "operator:lan" ||
			len(got.Events) != 2 || got.Events[1].By != "operator:lan" {
			t.Errorf("refunded: balance %d -> %d, %+v", before, after, got)
		}
	case "rejected":
		if after != before {
			t.Errorf("rejected yet refunded: %d -> %d", before, after)
		}
	default:
		t.Errorf("dispute: %+v", got)
	}
	var n int
	e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM ledger_transactions WHERE kind = 'refund'").Scan(&n)
	if (got.Status == "refunded") != (n == 1) || n > 1 {
		t.Errorf("%d refunds posted for a %s dispute", n, got.Status)
	}

	// Rejected with a reason; a refund above what was paid is refused.
	if st, b := e.call("POST", fmt.Sprintf("/v1/disputes/%d/resolution", d2.ID), op,
		map[string]any{"outcome": "refund", "amount_vnd": 99000, "reason": "goodwill"}, nil); st != 409 {
		t.Errorf("refund above the charge: %d %s", st, b)
	}
	if st, _ := e.call("POST", fmt.Sprintf("/v1/disputes/%d/resolution", d2.ID), op, map[string]any{"outcome": "reject"}, nil); st != 400 {
		t.Errorf("rejection without a reason: %d", st)
	}
	if st, _ := e.call("POST", fmt.Sprintf("/v1/disputes/%d/resolution", d2.ID), op,
		map[string]any{"outcome": "reject", "reason": "The fare Cát Linh → La Thành is the published one"}, nil); st != 200 {
		t.Errorf("reject: %d", st)
	}
	var mine struct {
		Disputes []disputeView `json:"disputes"`
	}
	e.call("GET", "/v1/me/disputes", chi, nil, &mine)
	if len(mine.Disputes) != 2 || mine.Disputes[0].Status != "rejected" || mine.Disputes[0].Resolution != "The fare Cát Linh → La Thành is the published one" {
		t.Errorf("the rider's view of outcomes: %+v", mine)
	}
	e.call("GET", "/v1/me/journeys", chi, nil, &js)
	if js.Journeys[1].Dispute == nil || js.Journeys[1].Dispute.Status != "rejected" || !js.Journeys[1].Disputable {
		t.Errorf("journey's dispute: %+v", js.Journeys[1])
	}
	b, err := e.store.Books(context.Background())
	if err != nil || !b.Balanced() {
		t.Errorf("books: %+v %v", b, err)
	}
}

func (e *env) balance(sub string) int64 {
	a, err := e.store.Account(context.Background(), ledger.Rider(sub))
	if err != nil {
		e.t.Fatal(err)
	}
	return a.Balance.IntPart()
}
