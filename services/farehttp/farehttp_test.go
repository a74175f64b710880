package farehttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/accounthttp"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/farehttp"
	"github.com/vnpass/vnpass/services/settlepg"
)

// 07:30 on 24 November 2026 in Hanoi.
var morning = time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC)

type api struct {
	t      *testing.T
	app    *fiber.App
	is     *authjwt.Issuer
	store  *settlepg.Store
	reason string // X-Access-Reason on every request when not empty
}

// operator is a token of an operator's staff, scoped to operator.
func (a *api) operator(sub, operator string) string {
	a.t.Helper()
	tok, err := a.is.IssueFor(sub, authjwt.RoleOperator, operator, time.Hour)
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// newAPI mounts the fare routes on the accounts API, as vnpass-fare does,
// over a database of the test's own.
func newAPI(t *testing.T) *api {
	t.Helper()
	s, err := settlepg.Open(context.Background(), testenv.PostgresURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	is, err := authjwt.New([]byte(strings.Repeat("k", 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	fares, err := fare.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	app := accounthttp.New(accounthttp.Config{Accounts: s, Auth: is, Audit: s, Routes: []func(fiber.Router){
		farehttp.Routes(farehttp.Config{Fares: fares, Journeys: s, Refunds: s, Now: func() time.Time { return morning }}),
	}})
	return &api{t: t, app: app, is: is, store: s, reason: "dispute #7"}
}

func (a *api) token(sub string, role authjwt.Role) string {
	a.t.Helper()
	tok, err := a.is.Issue(sub, role, time.Hour)
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// get returns the status, the content type and the body.
func (a *api) get(path, token string, out any) (int, string, string) {
	a.t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if a.reason != "" {
		req.Header.Set(accounthttp.ReasonHeader, a.reason)
	}
	resp, err := a.app.Test(req, 5000)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

type problem struct {
	Type, Title, Detail string
	Status              int
}

func TestQuote(t *testing.T) {
	a := newAPI(t)
	rider := a.token("vn_an", authjwt.RoleRider)
	for _, c := range []struct {
		query            string
		amount           int64
		text, cat, rule  string
		product, row, at string
		vi, en           string
	}{
		{
			query:  "from=hn2a-cat-linh&to=hn2a-yen-nghia&at=2026-11-24T07:30:00%2B07:00",
			amount: 15000, text: "15.000 ₫", cat: "adult", rule: "fare_leg_rules.txt:12", product: "hn2a-15000", row: "fare_products.txt:51",
			at: "2026-11-24T07:30:00+07:00",
			vi: "Giá vé Cát Linh → Yên Nghĩa, hạng adult: 15.000 ₫ (fare_leg_rules.txt:12, fare_products.txt:51)",
			en: "Fare Cát Linh → Yên Nghĩa, category adult: 15.000 ₫ (fare_leg_rules.txt:12, fare_products.txt:51)",
		},
		{
			// "+" left unescaped, as a hand-typed curl sends it.
			query:  "from=hn2a-cat-linh&to=hn2a-yen-nghia&at=2026-11-24T09:00:00+07:00",
			amount: 15000, text: "15.000 ₫", cat: "adult", rule: "fare_leg_rules.txt:12", product: "hn2a-15000", row: "fare_products.txt:51",
			at: "2026-11-24T09:00:00+07:00",
			vi: "Giá vé Cát Linh → Yên Nghĩa, hạng adult: 15.000 ₫ (fare_leg_rules.txt:12, fare_products.txt:51)",
			en: "Fare Cát Linh → Yên Nghĩa, category adult: 15.000 ₫ (fare_leg_rules.txt:12, fare_products.txt:51)",
		},
		{
			// No time: now (the injected clock), shown in local time.
			query:  "from=hn2a-cat-linh&to=hn2a-yen-nghia&category=senior_60_plus",
			amount: 0, text: "0 ₫", cat: "senior_60_plus", rule: "fare_leg_rules.txt:12", product: "hn2a-15000", row: "fare_products.txt:53",
			at: "2026-11-24T07:30:00+07:00",
			vi: "Giá vé Cát Linh → Yên Nghĩa, hạng senior_60_plus: miễn phí, 0 ₫ (fare_leg_rules.txt:12, fare_products.txt:53)",
			en: "Fare Cát Linh → Yên Nghĩa, category senior_60_plus: free, 0 ₫ (fare_leg_rules.txt:12, fare_products.txt:53)",
		},
		{
			query:  "from=hcm1-ben-thanh&to=hcm1-ben-xe-suoi-tien&at=2026-11-24T18:00:00Z",
			amount: 19000, text: "19.000 ₫", cat: "adult", rule: "fare_leg_rules.txt:14", product: "hcm1-19000", row: "fare_products.txt:80",
			at: "2026-11-25T01:00:00+07:00",
			vi: "Giá vé Bến Thành → Bến xe Suối Tiên, hạng adult: 19.000 ₫ (fare_leg_rules.txt:14, fare_products.txt:80)",
			en: "Fare Bến Thành → Bến xe Suối Tiên, category adult: 19.000 ₫ (fare_leg_rules.txt:14, fare_products.txt:80)",
		},
		{
			query:  "from=hn2a-yen-nghia&to=hn3-nhon",
			amount: 21000, text: "21.000 ₫", cat: "adult", rule: "fare_transfer_rules.txt:2", product: "hn-transfer-cat-linh", row: "fare_products.txt:110",
			at: "2026-11-24T07:30:00+07:00",
			vi: "Giá vé Yên Nghĩa → Nhổn, hạng adult, chuyển tuyến tại Cát Linh: 15.000 ₫ + 13.000 ₫ − 7.000 ₫ = 21.000 ₫ (fare_leg_rules.txt:123, fare_leg_rules.txt:233, fare_transfer_rules.txt:2)",
			en: "Fare Yên Nghĩa → Nhổn, category adult, changing lines at Cát Linh: 15.000 ₫ + 13.000 ₫ − 7.000 ₫ = 21.000 ₫ (fare_leg_rules.txt:123, fare_leg_rules.txt:233, fare_transfer_rules.txt:2)",
		},
	} {
		var p explain.Price
		code, ctype, body := a.get("/v1/fares/quote?"+c.query, rider, &p)
		if code != 200 || !strings.HasPrefix(ctype, "application/json") {
			t.Errorf("%s: %d %s %s", c.query, code, ctype, body)
			continue
		}
		if p.AmountVND != c.amount || p.AmountText != c.text || p.Category != c.cat || p.Rule != c.rule ||
			p.ProductID != c.product || p.ProductRow != c.row || p.At != c.at {
			t.Errorf("%s: %s", c.query, body)
		}
		if p.Explanation.VI != c.vi || p.Explanation.EN != c.en {
			t.Errorf("%s: explanation\n got %+v\nwant %s\n     %s", c.query, p.Explanation, c.vi, c.en)
		}
	}
	// The station names and the operator travel with the price.
	var p explain.Price
	a.get("/v1/fares/quote?from=hcm1-ben-thanh&to=hcm1-ben-xe-suoi-tien", a.token("ops", authjwt.RoleOperator), &p)
	if p.From.Name != "Bến Thành" || p.To.Name != "Bến xe Suối Tiên" || p.Network != "hcm1" || p.Operator != "hurc1" {
		t.Errorf("quote %+v", p)
	}
}

func TestQuoteProblemsNameTheParameter(t *testing.T) {
	a := newAPI(t)
	tok := a.token("ops", authjwt.RoleOperator)
	for _, c := range []struct {
		query, kind, detail string
	}{
		{"to=hn2a-lang", "bad-from", "from must be a stop_id"},
		{"from=hn2a-lang", "bad-to", "to must be a stop_id"},
		{"from=hn2a-nowhere&to=hn2a-lang", "bad-from", `from: no station has stop_id "hn2a-nowhere"`},
		{"from=hn2a-lang&to=hn2a-nowhere", "bad-to", `to: no station has stop_id "hn2a-nowhere"`},
		{"from=hn2a-lang&to=hn2a-ha-dong&at=tomorrow", "bad-at", "at must be an RFC 3339 time"},
		{"from=hn2a-lang&to=hn2a-ha-dong&at=2026-11-24T07:30:00", "bad-at", "at must be an RFC 3339 time"},
		{"from=hn2a-lang&to=hn2a-ha-dong&category=pensioner", "bad-category", `category: the fare data has no rider category "pensioner"`},
		{"from=hn3-nhon&to=hn3-cat-linh&category=worker_industrial_zone", "bad-category", `category: "worker_industrial_zone" is not priced`},
		{"from=hn2a-cat-linh&to=hcm1-ben-thanh", "bad-to", `to: no fare covers a trip from "hn2a-cat-linh" to "hcm1-ben-thanh"`},
	} {
		var p problem
		code, ctype, body := a.get("/v1/fares/quote?"+c.query, tok, &p)
		if code != 400 || ctype != "application/problem+json" || p.Status != 400 || p.Title != c.kind ||
			p.Type != "https://vnpass.vn/problems/"+c.kind || !strings.HasPrefix(p.Detail, c.detail) {
			t.Errorf("%s: %d %s %s; want 400 %s %q", c.query, code, ctype, body, c.kind, c.detail)
		}
	}
	var p problem
	if code, _, _ := a.get("/v1/fares/quote?from=hn2a-lang&to=hn2a-ha-dong", "", &p); code != 401 || p.Title != "unauthenticated" {
		t.Errorf("without a token: %d %+v", code, p)
	}
}

// journey inserts a journeys row as admission writes it and returns its id.
func (a *api) journey(subject, status, entry, exit string, full, charged int64, rule, capKind, capRule string) (id int64, exitEvent string) {
	a.t.Helper()
	entryEvent := proto.NewEventID(morning)
	var exitSite, exitID any
	if exit != "" {
		exitEvent = proto.NewEventID(morning.Add(35 * time.Minute))
		exitSite, exitID = exit, exitEvent
	}
	nullable := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	err := a.store.Pool().QueryRow(context.Background(), `INSERT INTO journeys (subject, network_id, operator_id,
		entry_event, entry_site, entry_at, exit_event, exit_site, exit_at, status, fare, full_fare, fare_rule, category, cap, cap_rule)
		VALUES ($1, 'hn2a', 'hanoi-metro', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'adult', $12, $13) RETURNING id`,
		subject, entryEvent, entry, morning, exitID, exitSite, morning.Add(35*time.Minute), status,
		charged, full, rule, nullable(capKind), nullable(capRule)).Scan(&id)
	if err != nil {
		a.t.Fatal(err)
	}
	if charged > 0 {
		key := "fare:" + exitEvent
		if exit == "" {
			key = "fare:missing-exit:" + entryEvent
		}
		tx, err := ledger.Transfer(key, "fare", rule, ledger.Rider(subject), ledger.OperatorRevenue("hanoi-metro"), money.Dong(charged))
		if err != nil {
			a.t.Fatal(err)
		}
		tx.JourneyID = id
		if err := a.store.Post(context.Background(), tx); err != nil {
			a.t.Fatal(err)
		}
	}
	return id, exitEvent
}

func (a *api) rider(subject string) {
	a.t.Helper()
	ctx := context.Background()
	if _, err := a.store.OpenRiderAccount(ctx, subject); err != nil {
		a.t.Fatal(err)
	}
	tx, _ := ledger.Transfer("topup:"+subject, "topup", "", ledger.ProviderSettlement("sim"), ledger.Rider(subject), money.Dong(100000))
	if err := a.store.Post(ctx, tx); err != nil {
		a.t.Fatal(err)
	}
}

func TestExplanationOfACappedJourney(t *testing.T) {
	a := newAPI(t)
	a.rider("vn_hoa")
	id, exitEvent := a.journey("vn_hoa", "closed", "hn2a-cat-linh", "hn2a-yen-nghia", 15000, 7000, "fare_leg_rules.txt:12", "day", "fare_products.txt:58")
	var r explain.Receipt
	code, _, body := a.get(fmt.Sprintf("/v1/journeys/%d/explanation", id), a.token("vn_hoa", authjwt.RoleRider), &r)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if r.JourneyID != id || r.Status != "closed" || r.Category != "adult" || r.FullFareVND != 15000 || r.ChargedVND != 7000 ||
		r.ChargedText != "7.000 ₫" || r.FareRule != "fare_leg_rules.txt:12" || r.Cap != "day" || r.CapRule != "fare_products.txt:58" ||
		r.CapLimitVND != 30000 || r.Entry == nil || r.Entry.StopID != "hn2a-cat-linh" || r.Entry.Name != "Cát Linh" ||
		r.Entry.At != "2026-11-24T07:30:00+07:00" || r.Exit == nil || r.Exit.Name != "Yên Nghĩa" || r.Exit.At != "2026-11-24T08:05:00+07:00" {
		t.Errorf("receipt %s", body)
	}
	if len(r.Ledger) != 1 || r.Ledger[0].Key != "fare:"+exitEvent || r.Ledger[0].AmountVND != 7000 || r.Ledger[0].Kind != "fare" {
		t.Fatalf("ledger %+v", r.Ledger)
	}
	tx := fmt.Sprint(r.Ledger[0].TransactionID)
	wantLines(t, r.Explanation.VI,
		"Giá vé Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
		"Hạng hành khách: adult (fare_products.txt:51)",
		"Đã áp dụng mức trần ngày 30.000 ₫: thu 7.000 ₫ thay vì 15.000 ₫ (fare_products.txt:58)",
		"Đã thu 7.000 ₫ (giao dịch sổ cái #"+tx+")")
	wantLines(t, r.Explanation.EN,
		"Fare Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
		"Rider category: adult (fare_products.txt:51)",
		"Daily cap of 30.000 ₫ applied: charged 7.000 ₫ instead of 15.000 ₫ (fare_products.txt:58)",
		"Charged 7.000 ₫ (ledger transaction #"+tx+")")
}

func TestExplanationOfAMissingExit(t *testing.T) {
	a := newAPI(t)
	a.rider("vn_lan")
	id, _ := a.journey("vn_lan", "incomplete", "hn2a-cat-linh", "", 15000, 15000, "missing-exit-max-fare", "", "")
	var r explain.Receipt
	code, _, body := a.get(fmt.Sprintf("/v1/journeys/%d/explanation", id), a.operator("ops", "hanoi-metro"), &r)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if r.Status != "incomplete" || r.Exit != nil || r.ChargedVND != 15000 || len(r.Ledger) != 1 || r.Ledger[0].AmountVND != 15000 {
		t.Errorf("receipt %s", body)
	}
	tx := fmt.Sprint(r.Ledger[0].TransactionID)
	wantLines(t, r.Explanation.VI,
		"Thiếu lượt ra: thu giá tối đa 15.000 ₫ (missing-exit-max-fare)",
		"Vào ga Cát Linh lúc 07:30 24/11/2026, không có lượt ra trong thời gian tối đa của một hành trình",
		"Hạng hành khách: adult",
		"Đã thu 15.000 ₫ (giao dịch sổ cái #"+tx+")")
	wantLines(t, r.Explanation.EN,
		"No exit tap: maximum fare 15.000 ₫ (missing-exit-max-fare)",
		"Entered Cát Linh at 07:30 on 2026-11-24 and tapped out nowhere within the longest journey time",
		"Rider category: adult",
		"Charged 15.000 ₫ (ledger transaction #"+tx+")")
}

func TestExplanationAuthorization(t *testing.T) {
	a := newAPI(t)
	a.rider("vn_hoa")
	a.rider("vn_binh")
	id, _ := a.journey("vn_hoa", "closed", "hn2a-cat-linh", "hn2a-lang", 9000, 9000, "fare_leg_rules.txt:4", "", "")
	path := fmt.Sprintf("/v1/journeys/%d/explanation", id)
	_, _, missing := a.get(fmt.Sprintf("/v1/journeys/%d/explanation", id+1000), a.token("vn_binh", authjwt.RoleRider), nil)
	for _, c := range []struct {
		who   string
		token string
		code  int
	}{
		{"the rider", a.token("vn_hoa", authjwt.RoleRider), 200},
		{"the line's operator", a.operator("ops", "hanoi-metro"), 200},
		{"an admin", a.token("root", authjwt.RoleAdmin), 200},
		{"another line's operator", a.operator("minh", "hurc1"), 404},
		{"another rider", a.token("vn_binh", authjwt.RoleRider), 404},
		{"a rider token without subject", a.token("", authjwt.RoleRider), 404},
		{"no one", "", 401},
	} {
		code, ctype, body := a.get(path, c.token, nil)
		if code != c.code {
			t.Errorf("%s: %d %s, want %d", c.who, code, body, c.code)
		}
		// Nothing in any answer names the rider: not the journey, not a
		// problem.
		if strings.Contains(body, "vn_hoa") {
			t.Errorf("%s: the answer names the rider: %s", c.who, body)
		}
		if c.code == 404 && (body != missing || ctype != "application/problem+json") {
			t.Errorf("%s: another rider's journey answers %s, a missing one %s", c.who, body, missing)
		}
	}
	if code, _, body := a.get(path, a.token("ops", authjwt.RoleOperator), nil); code != 403 {
		t.Errorf("an operator's token naming no operator: %d %s, want 403", code, body)
	}
	var p problem
	if code, _, _ := a.get("/v1/journeys/abc/explanation", a.operator("ops", "hanoi-metro"), &p); code != 400 || p.Title != "bad-id" {
		t.Errorf("bad id: %d %+v", code, p)
	}
	// Staff read with a purpose, audited; without one, refused.
	es, err := a.store.AuditLog(context.Background(), settlepg.AuditFilter{Rider: "vn_hoa"})
	if err != nil || len(es) != 2 || es[0].Action != "journey.read" || es[0].Actor != "root" || es[1].Actor != "ops" ||
		es[1].Operator != "hanoi-metro" || es[1].Reason != "dispute #7" {
		t.Errorf("audit of the staff reads: %+v %v", es, err)
	}
	a.reason = ""
	if code, _, body := a.get(path, a.token("root", authjwt.RoleAdmin), nil); code != 400 || !strings.Contains(body, "reason-required") {
		t.Errorf("a staff read without a purpose: %d %s, want 400", code, body)
	}
	if code, _, _ := a.get(path, a.token("vn_hoa", authjwt.RoleRider), nil); code != 200 {
		t.Errorf("the rider's own read needs no purpose: %d", code)
	}
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n got %q\nwant %q", got, want)
	}
}

func (a *api) post(path, token, body string) (int, string) {
	a.t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.app.Test(req, 5000)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// An operator refunds part of a journey with a reason; the rider sees it in
// the explanation; nobody can refund more than was paid.
func TestRefunds(t *testing.T) {
	a := newAPI(t)
	a.rider("vn_lan")
	id, _ := a.journey("vn_lan", "incomplete", "hn2a-cat-linh", "", 15000, 15000, "missing-exit-max-fare", "", "")
	path := fmt.Sprintf("/v1/journeys/%d/refunds", id)
	op := a.operator("hanoi-metro-staff-7", "hanoi-metro")
	body := `{"amount_vnd":7000,"reason":"Cửa ra ga Yên Nghĩa hỏng / exit gate fault","idempotency_key":"d-1"}`
	if code, b := a.post(path, op, body); code != 201 || !strings.Contains(b, `"amount_text":"7.000 ₫"`) {
		t.Fatalf("refund: %d %s", code, b)
	}
	if code, _ := a.post(path, op, body); code != 200 {
		t.Errorf("repeat: %d", code)
	}
	for _, c := range []struct {
		name, token, body string
		want              int
	}{
		{"rider", a.token("vn_lan", authjwt.RoleRider), `{"amount_vnd":1000,"reason":"please","idempotency_key":"r"}`, 403},
		{"operator naming no operator", a.token("hanoi-metro-staff-7", authjwt.RoleOperator), `{"amount_vnd":1000,"reason":"gate fault","idempotency_key":"o-1"}`, 403},
		{"another line's operator", a.operator("minh", "hurc1"), `{"amount_vnd":1000,"reason":"gate fault","idempotency_key":"o-2"}`, 404},
		{"more than paid", op, `{"amount_vnd":9000,"reason":"gate fault","idempotency_key":"d-2"}`, 409},
		{"no reason", op, `{"amount_vnd":1000,"reason":" ","idempotency_key":"d-3"}`, 400},
		{"key reused", op, `{"amount_vnd":1000,"reason":"gate fault","idempotency_key":"d-1"}`, 409},
		{"no such journey", op, `{"amount_vnd":1000,"reason":"gate fault","idempotency_key":"d-4"}`, 404},
	} {
		p := path
		if c.name == "no such journey" {
			p = "/v1/journeys/999999/refunds"
		}
		if code, b := a.post(p, c.token, c.body); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, b, c.want)
		}
	}
	// What is left (8.000) can still be refunded, not a dong more.
	if code, b := a.post(path, op, `{"amount_vnd":8000,"reason":"gate fault, rest","idempotency_key":"d-5"}`); code != 201 {
		t.Errorf("the rest: %d %s", code, b)
	}
	var r explain.Receipt
	a.get(fmt.Sprintf("/v1/journeys/%d/explanation", id), a.token("vn_lan", authjwt.RoleRider), &r)
	if len(r.Ledger) != 3 || !strings.Contains(strings.Join(r.Explanation.EN, "\n"),
		"Refunded 7.000 ₫ by the operator: Cửa ra ga Yên Nghĩa hỏng / exit gate fault (by operator:hanoi-metro-staff-7)") {
		t.Errorf("explanation %+v", r.Explanation.EN)
	}
	b, err := a.store.Books(context.Background())
	if err != nil || !b.Balanced() {
		t.Errorf("books %+v %v", b, err)
	}
}
