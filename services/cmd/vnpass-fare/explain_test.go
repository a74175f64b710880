package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/settlepg"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestQuoteCommand(t *testing.T) {
	now := time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		args []string
		want string
	}{
		{
			[]string{"-from", "hn2a-cat-linh", "-to", "hn2a-yen-nghia"},
			"Cát Linh → Yên Nghĩa · adult · hn2a (hanoi-metro) · 2026-11-24T07:30:00+07:00\n" +
				"Giá vé / Fare: 15.000 ₫\n" +
				"  Giá vé Cát Linh → Yên Nghĩa, hạng adult: 15.000 ₫ (fare_leg_rules.txt:12, fare_products.txt:51)\n" +
				"  Fare Cát Linh → Yên Nghĩa, category adult: 15.000 ₫ (fare_leg_rules.txt:12, fare_products.txt:51)\n",
		},
		{
			[]string{"-from", "hcm1-ben-thanh", "-to", "hcm1-ben-xe-suoi-tien", "-category", "senior_60_plus", "-at", "2026-12-01T06:00:00+07:00"},
			"Bến Thành → Bến xe Suối Tiên · senior_60_plus · hcm1 (hurc1) · 2026-12-01T06:00:00+07:00\n" +
				"Giá vé / Fare: 0 ₫\n" +
				"  Giá vé Bến Thành → Bến xe Suối Tiên, hạng senior_60_plus: miễn phí, 0 ₫ (fare_leg_rules.txt:14, fare_products.txt:82)\n" +
				"  Fare Bến Thành → Bến xe Suối Tiên, category senior_60_plus: free, 0 ₫ (fare_leg_rules.txt:14, fare_products.txt:82)\n",
		},
		{
			[]string{"-from", "hn2a-yen-nghia", "-to", "hn3-nhon"},
			"Yên Nghĩa → Nhổn · adult · hn2a (hanoi-metro) · 2026-11-24T07:30:00+07:00\n" +
				"Giá vé / Fare: 21.000 ₫\n" +
				"  chặng / leg 1: Yên Nghĩa (hn2a-yen-nghia) → Cát Linh (hn2a-cat-linh) 15.000 ₫ (fare_leg_rules.txt:123)\n" +
				"  chặng / leg 2: Cát Linh (hn3-cat-linh) → Nhổn (hn3-nhon) 13.000 ₫ (fare_leg_rules.txt:233)\n" +
				"  Giá vé Yên Nghĩa → Nhổn, hạng adult, chuyển tuyến tại Cát Linh: 15.000 ₫ + 13.000 ₫ − 7.000 ₫ = 21.000 ₫ (fare_leg_rules.txt:123, fare_leg_rules.txt:233, fare_transfer_rules.txt:2)\n" +
				"  Fare Yên Nghĩa → Nhổn, category adult, changing lines at Cát Linh: 15.000 ₫ + 13.000 ₫ − 7.000 ₫ = 21.000 ₫ (fare_leg_rules.txt:123, fare_leg_rules.txt:233, fare_transfer_rules.txt:2)\n",
		},
	} {
		var out bytes.Buffer
		if err := quote(c.args, env(nil), now, &out); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if out.String() != c.want {
			t.Errorf("%v:\n got %s\nwant %s", c.args, out.String(), c.want)
		}
	}

	var out bytes.Buffer
	if err := quote([]string{"-from", "hn2a-lang", "-to", "hn2a-ha-dong", "-json"}, env(nil), now, &out); err != nil {
		t.Fatal(err)
	}
	var p explain.Price
	if err := json.Unmarshal(out.Bytes(), &p); err != nil || p.AmountVND != 11000 || p.AmountText != "11.000 ₫" {
		t.Errorf("-json: %v %s", err, out.String())
	}

	for _, c := range []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"-from", "hn2a-lang"}, "-from and -to are required", true},
		{[]string{"-from", "hn2a-lang", "-to", "hn2a-ha-dong", "-at", "8am"}, `-at "8am"`, true},
		{[]string{"-from", "hn2a-nowhere", "-to", "hn2a-ha-dong"}, `-from "hn2a-nowhere": fare: unknown stop`, false},
		{[]string{"-from", "hn2a-lang", "-to", "hn2a-ha-dong", "-category", "pensioner"}, `-category "pensioner": fare: unknown rider category`, false},
	} {
		err := quote(c.args, env(nil), now, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, errUsage) != c.usage {
			t.Errorf("%v: %v, want %q (usage %v)", c.args, err, c.want, c.usage)
		}
	}
	if err := quote([]string{"-from", "a", "-to", "b"}, env(map[string]string{"VNPASS_FARE_DATA": t.TempDir()}), now, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "fare data") {
		t.Errorf("an empty fare folder: %v", err)
	}
}

func TestExplainCommand(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	st, err := settlepg.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.OpenRiderAccount(ctx, "vn_cli"); err != nil {
		t.Fatal(err)
	}
	top, _ := ledger.Transfer("topup:vn_cli", "topup", "", ledger.ProviderSettlement("sim"), ledger.Rider("vn_cli"), money.Dong(50000))
	if err := st.Post(ctx, top); err != nil {
		t.Fatal(err)
	}
	entry, exit := proto.NewEventID(time.Now()), proto.NewEventID(time.Now())
	var id int64
	err = st.Pool().QueryRow(ctx, `INSERT INTO journeys (subject, network_id, operator_id, entry_event, entry_site, entry_at,
		exit_event, exit_site, exit_at, status, fare, full_fare, fare_rule, category, cap, cap_rule)
		VALUES ('vn_cli', 'hn2a', 'hanoi-metro', $1, 'hn2a-cat-linh', '2026-11-24T07:30:00+07:00', $2, 'hn2a-yen-nghia',
		'2026-11-24T08:05:00+07:00', 'closed', 7000, 15000, 'fare_leg_rules.txt:12', 'adult', 'day', 'fare_products.txt:58')
		RETURNING id`, entry, exit).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	charge, _ := ledger.Transfer("fare:"+exit, "fare", "hn2a-cat-linh -> hn2a-yen-nghia", ledger.Rider("vn_cli"), ledger.OperatorRevenue("hanoi-metro"), money.Dong(7000))
	charge.JourneyID = id
	if err := st.Post(ctx, charge); err != nil {
		t.Fatal(err)
	}
	var txID int64
	st.Pool().QueryRow(ctx, "SELECT id FROM ledger_transactions WHERE idempotency_key = $1", "fare:"+exit).Scan(&txID)

	var out bytes.Buffer
	if err := explainJourney(ctx, []string{"-journey", fmt.Sprint(id)}, env(map[string]string{"VNPASS_PG_URL": url}), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("Hành trình / Journey #%d · closed · adult · hn2a (hanoi-metro)\n", id),
		"Vào / In:  Cát Linh (hn2a-cat-linh) 2026-11-24T07:30:00+07:00\n",
		"Ra / Out:  Yên Nghĩa (hn2a-yen-nghia) 2026-11-24T08:05:00+07:00\n",
		"Đã thu / Charged: 7.000 ₫ (giá trước mức trần / before caps 15.000 ₫)\n",
		"  Đã áp dụng mức trần ngày 30.000 ₫: thu 7.000 ₫ thay vì 15.000 ₫ (fare_products.txt:58)\n",
		"  Daily cap of 30.000 ₫ applied: charged 7.000 ₫ instead of 15.000 ₫ (fare_products.txt:58)\n",
		fmt.Sprintf("  #%d fare fare:%s 7.000 ₫ ", txID, exit),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "vn_cli") {
		t.Errorf("output names the rider:\n%s", out.String())
	}

	err = explainJourney(ctx, []string{"-journey", fmt.Sprint(id + 100)}, env(map[string]string{"VNPASS_PG_URL": url}), io.Discard)
	if !errors.Is(err, explain.ErrNoJourney) {
		t.Errorf("unknown journey: %v", err)
	}
	if err := explainJourney(ctx, []string{"-journey", "1"}, env(nil), io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("without VNPASS_PG_URL: %v", err)
	}
	if err := explainJourney(ctx, nil, env(map[string]string{"VNPASS_PG_URL": url}), io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("without -journey: %v", err)
	}
}

// TestExplanationEndToEnd: a rider rides Cát Linh -> Yên Nghĩa through real
// gates; the running service's API then tells that rider why they paid
// 15.000 ₫, tells another rider nothing, and quotes the same trip.
func TestExplanationEndToEnd(t *testing.T) {
	p := startPlatform(t)
	in := p.rawGate("hn2a-cat-linh", "hn2a-cat-linh-in07")
	out := p.rawGate("hn2a-yen-nghia", "hn2a-yen-nghia-out07")
	subject, face := p.rider("001090077777")
	wantReason(t, "entry", in.send(proto.KindMetroEntry, p.assertion(face, in.dev)), proto.ReasonOK)
	exit := out.send(proto.KindMetroExit, p.assertion(face, out.dev))
	wantReason(t, "exit", exit, proto.ReasonOK)

	var id int64
	if err := p.main.Store.Pool().QueryRow(context.Background(), "SELECT id FROM journeys WHERE subject = $1", subject).Scan(&id); err != nil {
		t.Fatal(err)
	}
	get := func(path, sub string, role authjwt.Role, v any) int {
		t.Helper()
		tok, err := p.main.Auth.Issue(sub, role, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", p.apiURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	var r explain.Receipt
	if code := get(fmt.Sprintf("/v1/journeys/%d/explanation", id), subject, authjwt.RoleRider, &r); code != 200 {
		t.Fatalf("rider's own journey: %d", code)
	}
	if r.ChargedVND != 15000 || r.FareRule != "fare_leg_rules.txt:12" || len(r.Ledger) != 1 || r.Ledger[0].Key != "fare:"+exit.EventID ||
		len(r.Explanation.VI) == 0 || r.Explanation.VI[0] != "Giá vé Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)" {
		t.Errorf("explanation %+v", r)
	}
	if code := get(fmt.Sprintf("/v1/journeys/%d/explanation", id), "vn_someone_else", authjwt.RoleRider, nil); code != 404 {
		t.Errorf("another rider: %d, want 404", code)
	}
	var q explain.Price
	if code := get("/v1/fares/quote?from=hn2a-cat-linh&to=hn2a-yen-nghia", subject, authjwt.RoleRider, &q); code != 200 || q.AmountVND != 15000 {
		t.Errorf("quote: %d %+v", code, q)
	}
}
