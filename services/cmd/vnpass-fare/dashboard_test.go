package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/headless"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
	"github.com/vnpass/vnpass/services/authjwt"
)

// seedDay is the seeded day of the dashboard tests (local date).
var seedDay = time.Date(2026, 11, 20, 0, 0, 0, 0, fare.Zone)

type seeded struct {
	entries, exits map[string]int // by line
	fares          map[string]int64
	journeys       map[string]int
	parkIn         map[string]int // by lot
}

// seedDashboardDay writes a day of taps, journeys and parking sessions on
// Line 2A, Line 3 (hanoi-metro), HCMC Line 1 (hurc1) and two lots straight
// into ClickHouse, every batch twice (the exporter's retry).
func seedDashboardDay(t *testing.T, p *platform) seeded {
	t.Helper()
	ctx := context.Background()
	set, err := fare.Shipped() // what the service loads without VNPASS_FARE_DATA
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string][]fare.Stop{}
	for _, s := range set.Stops() {
		lines[s.NetworkID] = append(lines[s.NetworkID], s)
	}
	sd := seeded{entries: map[string]int{}, exits: map[string]int{}, fares: map[string]int64{}, journeys: map[string]int{}, parkIn: map[string]int{}}
	var taps []ridership.Tap
	var js []ridership.Journey
	id := int64(0)
	for _, net := range []string{"hn2a", "hn3", "hcm1"} {
		stops := lines[net]
		if len(stops) < 2 {
			t.Fatalf("line %s has %d stops", net, len(stops))
		}
		n, _ := set.Network(net)
		per := map[string]int{"hn2a": 400, "hn3": 120, "hcm1": 300}[net]
		for i := 0; i < per; i++ {
			// Two rush hours, 07:30 and 17:30, and a quieter midday.
			m := 330 + (i*997)%1050
			if i%3 == 0 {
				m = 450 + int(40*math.Sin(float64(i)))
			} else if i%3 == 1 {
				m = 1050 + int(40*math.Cos(float64(i)))
			}
			in := seedDay.Add(time.Duration(m) * time.Minute).Add(time.Duration(i%60) * time.Second)
			out := in.Add(time.Duration(10+i%30) * time.Minute)
			a, b := stops[i%len(stops)], stops[(i*5+i/len(stops)+1)%len(stops)]
			if a.ID == b.ID {
				b = stops[(i+1)%len(stops)]
			}
			rider := fmt.Sprintf("seed-%s-%d", net, i%90)
			f := int64(8000 + 1000*(i%5))
			id++
			taps = append(taps,
				ridership.Tap{EventID: fmt.Sprintf("seed-%s-in-%d", net, i), Device: a.ID + "-in01", Site: a.ID, Kind: string(proto.KindMetroEntry),
					RiderKey: rider, CapturedAt: in, ReceivedAt: in, Open: true, Reason: "ok"},
				ridership.Tap{EventID: fmt.Sprintf("seed-%s-out-%d", net, i), Device: b.ID + "-out01", Site: b.ID, Kind: string(proto.KindMetroExit),
					RiderKey: rider, CapturedAt: out, ReceivedAt: out, Open: true, Reason: "ok", Fare: money.Dong(f)})
			js = append(js, ridership.Journey{ID: 1_000_000 + id, RiderKey: rider, NetworkID: net, OperatorID: n.OperatorID,
				EntrySite: a.ID, ExitSite: b.ID, EntryAt: in, ExitAt: out, Status: "closed", Category: "adult", FareRule: "seed", Fare: money.Dong(f)})
			sd.entries[net]++
			sd.exits[net]++
			sd.fares[net] += f
			sd.journeys[net]++
		}
	}
	var ps []ridership.ParkingSession
	for i, lot := range []string{"hnp-cat-linh", "hnp-cat-linh", "hnp-cat-linh", "hcmp-ben-thanh"} {
		for k := 0; k < 25; k++ {
			in := seedDay.Add(time.Duration(6*60+k*17+i*5) * time.Minute)
			ps = append(ps, ridership.ParkingSession{ID: int64(1_000_000 + i*100 + k), Lot: lot,
				OperatorID: map[bool]string{true: "hcm-parking", false: "hn-parking"}[strings.HasPrefix(lot, "hcmp")],
				PlateKey:   "p", Class: "motorbike", Tariff: "t", EntryAt: in, ExitAt: in.Add(time.Duration(60+k*13) * time.Minute),
				Fee: money.Dong(5000), Rule: "seed"})
			sd.parkIn[lot]++
		}
	}
	for round := 0; round < 2; round++ {
		if err := p.main.Sink.WriteTaps(ctx, taps); err != nil {
			t.Fatal(err)
		}
		if err := p.main.Sink.WriteJourneys(ctx, js); err != nil {
			t.Fatal(err)
		}
		if err := p.main.Sink.WriteParkingSessions(ctx, ps); err != nil {
			t.Fatal(err)
		}
	}
	return sd
}

func sumSlots(out map[string]any) (entries, exits int, sites map[string]bool) {
	sites = map[string]bool{}
	slots, _ := out["slots"].([]any)
	for _, s := range slots {
		m := s.(map[string]any)
		entries += int(m["entries"].(float64))
		exits += int(m["exits"].(float64))
		sites[m["site"].(string)] = true
	}
	return
}

// TestDashboardScopedToOperator: on a seeded day (every batch written
// twice), each operator's dashboard API answers exactly its own lines' and
// lots' numbers, and a line of another operator is not found.
func TestDashboardScopedToOperator(t *testing.T) {
	p := startPlatform(t)
	sd := seedDashboardDay(t, p)
	day := "?day=" + seedDay.Format("2006-01-02")
	metro, _ := p.main.Auth.IssueFor("lan", authjwt.RoleOperator, "hanoi-metro", time.Hour)
	hcm, _ := p.main.Auth.IssueFor("minh", authjwt.RoleOperator, "hurc1", time.Hour)
	park, _ := p.main.Auth.IssueFor("hoa", authjwt.RoleOperator, "hn-parking", time.Hour)
	unscoped, _ := p.main.Auth.Issue("old-console", authjwt.RoleOperator, time.Hour)
	rider, _ := p.main.Auth.Issue("vn_someone", authjwt.RoleRider, time.Hour)

	st, out := p.call("GET", "/v1/dashboard/scope", metro, nil)
	if ls, _ := out["lines"].([]any); st != 200 || len(ls) != 2 || ls[0].(map[string]any)["id"] != "hn2a" || ls[1].(map[string]any)["id"] != "hn3" {
		t.Fatalf("hanoi-metro scope: %d %v", st, out)
	}
	st, out = p.call("GET", "/v1/dashboard/stations"+day, metro, nil)
	e, x, sites := sumSlots(out)
	if st != 200 || e != sd.entries["hn2a"]+sd.entries["hn3"] || x != sd.exits["hn2a"]+sd.exits["hn3"] {
		t.Errorf("hanoi-metro stations: %d, %d entries %d exits, want %d and %d", st, e, x, sd.entries["hn2a"]+sd.entries["hn3"], sd.exits["hn2a"]+sd.exits["hn3"])
	}
	for s := range sites {
		if strings.HasPrefix(s, "hcm") {
			t.Errorf("hanoi-metro sees station %s", s)
		}
	}
	st, out = p.call("GET", "/v1/dashboard/stations"+day+"&line=hn3", metro, nil)
	if e, _, _ := sumSlots(out); st != 200 || e != sd.entries["hn3"] {
		t.Errorf("Line 3 alone: %d, %d entries, want %d", st, e, sd.entries["hn3"])
	}
	for _, path := range []string{"/v1/dashboard/stations" + day + "&line=hcm1", "/v1/dashboard/od" + day + "&line=hcm1"} {
		if st, _ := p.call("GET", path, metro, nil); st != 404 {
			t.Errorf("hanoi-metro %s: %d, want 404", path, st)
		}
	}
	if st, _ := p.call("GET", "/v1/dashboard/od"+day+"&line=hn2a", hcm, nil); st != 404 {
		t.Errorf("hurc1 reading Line 2A's OD: %d, want 404", st)
	}
	st, out = p.call("GET", "/v1/dashboard/revenue"+day, metro, nil)
	got := map[string]int64{}
	for _, l := range out["lines"].([]any) {
		m := l.(map[string]any)
		got[m["line"].(string)] = int64(m["fare_vnd"].(float64))
	}
	if st != 200 || len(got) != 2 || got["hn2a"] != sd.fares["hn2a"] || got["hn3"] != sd.fares["hn3"] {
		t.Errorf("hanoi-metro revenue %v, want hn2a %d, hn3 %d and nothing else", got, sd.fares["hn2a"], sd.fares["hn3"])
	}
	st, out = p.call("GET", "/v1/dashboard/revenue"+day, hcm, nil)
	if ls := out["lines"].([]any); st != 200 || len(ls) != 1 || ls[0].(map[string]any)["line"] != "hcm1" ||
		int64(ls[0].(map[string]any)["fare_vnd"].(float64)) != sd.fares["hcm1"] {
		t.Errorf("hurc1 revenue: %d %v, want hcm1 %d only", st, out, sd.fares["hcm1"])
	}
	st, out = p.call("GET", "/v1/dashboard/od"+day, hcm, nil)
	n := 0
	for _, c := range out["cells"].([]any) {
		m := c.(map[string]any)
		if m["line"] != "hcm1" {
			t.Errorf("hurc1 sees OD cell %v", m)
		}
		n += int(m["journeys"].(float64))
	}
	if st != 200 || n != sd.journeys["hcm1"] {
		t.Errorf("hurc1 OD: %d, %d journeys, want %d", st, n, sd.journeys["hcm1"])
	}
	st, out = p.call("GET", "/v1/dashboard/parking"+day, metro, nil)
	if ls := out["lots"].([]any); st != 200 || len(ls) != 0 {
		t.Errorf("hanoi-metro sees lots: %v", ls)
	}
	st, out = p.call("GET", "/v1/dashboard/parking"+day, park, nil)
	in := map[string]int{}
	for _, l := range out["lots"].([]any) {
		m := l.(map[string]any)
		for _, h := range m["hours"].([]any) {
			in[m["id"].(string)] += int(h.(map[string]any)["in"].(float64))
		}
	}
	if st != 200 || len(out["lots"].([]any)) != 3 || in["hnp-cat-linh"] != sd.parkIn["hnp-cat-linh"] || in["hcmp-ben-thanh"] != 0 {
		t.Errorf("hn-parking lots: %d %v, want Cát Linh %d in", st, in, sd.parkIn["hnp-cat-linh"])
	}
	for who, tok := range map[string]string{"an operator token without an operator": unscoped, "a rider": rider} {
		if st, _ := p.call("GET", "/v1/dashboard/stations"+day, tok, nil); st != 403 {
			t.Errorf("%s: %d, want 403", who, st)
		}
	}
	if st, _ := p.call("GET", "/v1/dashboard/devices", metro, nil); st != 404 {
		t.Errorf("devices without a fleet service: %d, want 404", st)
	}
	// An admin sees all three lines.
	st, out = p.call("GET", "/v1/dashboard/revenue"+day, p.token, nil)
	if ls, _ := out["lines"].([]any); st != 200 || len(ls) != 3 {
		t.Errorf("admin revenue: %d %v", st, out)
	}
}

// TestDashboardPageAndFreshness: the dashboard page in headless Chromium
// draws the seeded day for Hanoi Metro (entries and exits over the day, the
// OD heatmap, revenue by line) and nothing of HCMC's line, and the parking
// operator's page draws its lots; screenshots go to
// .run/screenshots/<test>/. Then a real tap through a gate: how long after
// the gate has its decision the tap is in the dashboard's aggregates, with
// the exporter's production interval (500 ms).
func TestDashboardPageAndFreshness(t *testing.T) {
	p := startPlatformWith(t, func(c *Config) { c.ExportInterval = 500 * time.Millisecond })
	seedDashboardDay(t, p)
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
	if err := b.Viewport(ctx, 1280, 900, 1); err != nil {
		t.Fatal(err)
	}
	// A rider disputes a trip on hanoi-metro's line: it reaches the panel.
	sub, subFace := p.rider("001090088888")
	{
		in := p.rawGate("hn2a-cat-linh", "hn2a-cat-linh-in08")
		out := p.rawGate("hn2a-lang", "hn2a-lang-out08")
		wantReason(t, "entry", in.send(proto.KindMetroEntry, p.assertion(subFace, in.dev)), proto.ReasonOK)
		wantReason(t, "exit", out.send(proto.KindMetroExit, p.assertion(subFace, out.dev)), proto.ReasonOK)
	}
	var journeyID int64
	if err := p.main.Store.Pool().QueryRow(context.Background(), `SELECT id FROM journeys WHERE subject = $1`, sub).Scan(&journeyID); err != nil {
		t.Fatal(err)
	}
	riderTok, _ := p.main.Auth.Issue(sub, authjwt.RoleRider, time.Hour)
	code, filed := p.call("POST", "/v1/me/disputes", riderTok, map[string]any{"kind": "journey", "charge_id": journeyID,
		"reason": "Cổng ra thu hai lần · The exit gate charged me twice"})
	if code != 201 {
		t.Fatalf("dispute: %d %v", code, filed)
	}
	disputeID := int64(filed["id"].(float64))
	charged := int64(filed["charged_vnd"].(float64))
	balanceBefore := p.balance(sub)

	metro, _ := p.main.Auth.IssueFor("lan", authjwt.RoleOperator, "hanoi-metro", time.Hour)
	start := time.Now()
	if err := b.Navigate(ctx, p.apiURL+"/dashboard/?day="+seedDay.Format("2006-01-02")+"#token="+metro); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.body.dataset.ready === "1" || document.body.dataset.ready === "error"`); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard ready in %s", time.Since(start).Round(time.Millisecond))
	var page struct {
		Ready    string   `json:"ready"`
		Stations int      `json:"stations"`
		Bars     int      `json:"bars"`
		OD       int      `json:"od"`
		Revenue  int      `json:"revenue"`
		Lines    []string `json:"lines"`
		Text     string   `json:"text"`
		Hash     string   `json:"hash"`
	}
	if err := b.Eval(ctx, `({ready: document.body.dataset.ready,
		stations: +document.querySelector("#stations-chart svg").dataset.points,
		bars: +document.querySelector("#stations-bars svg").dataset.points,
		od: +document.querySelector("#od-chart svg").dataset.points,
		revenue: +document.querySelector("#revenue-chart svg").dataset.points,
		lines: [...document.querySelectorAll("#line option")].map(o => o.value),
		text: document.body.innerText, hash: location.hash})`, &page); err != nil {
		t.Fatal(err)
	}
	if page.Ready != "1" || page.Stations < 20 || page.Bars < 10 || page.OD < 10 || page.Revenue != 2 ||
		strings.Join(page.Lines, ",") != ",hn2a,hn3" || page.Hash != "" {
		t.Errorf("hanoi-metro page: %+v", page)
	}
	if strings.Contains(page.Text, "Bến Thành") || strings.Contains(page.Text, "hcm1") || strings.Contains(page.Text, "Suối Tiên") {
		t.Errorf("hanoi-metro's page shows HCMC's line")
	}
	if err := b.Screenshot(ctx, filepath.Join(shots, "1-hanoi-metro.png"), true); err != nil {
		t.Fatal(err)
	}

	// The dispute in the panel: the rider by a short reference only; the
	// operator refunds it in full from the page.
	sel := fmt.Sprintf(`#disputes-list .dispute[data-id="%d"]`, disputeID)
	var panel struct {
		Rows int    `json:"rows"`
		Text string `json:"text"`
	}
	b.Eval(ctx, `({rows: document.querySelectorAll("#disputes-list .dispute").length,
		text: (document.querySelector(`+strconv.Quote(sel)+`) || {}).innerText || ""})`, &panel)
	if panel.Rows != 1 || !strings.Contains(panel.Text, "Cổng ra thu hai lần") || !strings.Contains(panel.Text, money.Format(money.Dong(charged))) ||
		!strings.Contains(panel.Text, "#"+strconv.FormatInt(journeyID, 10)) || !strings.Contains(panel.Text, "R-") || strings.Contains(panel.Text, sub) {
		t.Errorf("dispute panel: %+v, want dispute %d of %d ₫ with the rider's short reference only", panel, disputeID, charged)
	}
	// Scoped: the parking operator and HCMC's metro do not see it, an admin does.
	hcmTok, _ := p.main.Auth.IssueFor("minh", authjwt.RoleOperator, "hurc1", time.Hour)
	parkTok, _ := p.main.Auth.IssueFor("hoa", authjwt.RoleOperator, "hn-parking", time.Hour)
	for who, want := range map[string]int{p.token: 1, hcmTok: 0, parkTok: 0, metro: 1} {
		st, out := p.call("GET", "/v1/dashboard/disputes", who, nil)
		if ds, _ := out["disputes"].([]any); st != 200 || len(ds) != want {
			t.Errorf("/v1/dashboard/disputes: %d %v, want %d", st, out, want)
		}
	}
	if err := b.Type(ctx, sel+` input[name=reason]`, "Đã kiểm tra, hoàn tiền · Checked, refunded"); err != nil {
		t.Fatal(err)
	}
	if err := b.Screenshot(ctx, filepath.Join(shots, "1b-dispute.png"), true); err != nil {
		t.Fatal(err)
	}
	if err := b.Click(ctx, sel+` button.refund`); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.body.dataset.disputes === "done"`); err != nil {
		t.Fatal(err)
	}
	var after struct {
		Rows int    `json:"rows"`
		Note string `json:"note"`
	}
	b.Eval(ctx, `({rows: document.querySelectorAll("#disputes-list .dispute").length, note: document.getElementById("disputes-note").textContent})`, &after)
	if after.Rows != 0 || !strings.Contains(after.Note, "Refunded "+money.Format(money.Dong(charged))) {
		t.Errorf("after the refund the panel shows %+v, want no open dispute and the refund said", after)
	}
	if got := p.balance(sub); got != balanceBefore+charged {
		t.Errorf("rider's balance %d after the refund, want %d", got, balanceBefore+charged)
	}
	if st, d := p.call("GET", fmt.Sprintf("/v1/disputes/%d", disputeID), p.token, nil); st != 200 || d["status"] != "refunded" ||
		int64(d["refund_vnd"].(float64)) != charged || !strings.Contains(fmt.Sprint(d["resolved_by"]), "lan") {
		t.Errorf("dispute after the page's refund: %d %v", st, d)
	}
	if err := b.Screenshot(ctx, filepath.Join(shots, "1c-refunded.png"), true); err != nil {
		t.Fatal(err)
	}
	park, _ := p.main.Auth.IssueFor("hoa", authjwt.RoleOperator, "hn-parking", time.Hour)
	if err := b.Navigate(ctx, p.apiURL+"/dashboard/?view=parking&day="+seedDay.Format("2006-01-02")+"#token="+park); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.body.dataset.ready === "1" && document.querySelector("#parking-list .lot")`); err != nil {
		t.Fatal(err)
	}
	var lots []struct {
		ID     string `json:"id"`
		Points int    `json:"points"`
	}
	b.Eval(ctx, `[...document.querySelectorAll("#parking-list .lot")].map(l => ({id: l.dataset.lot, points: +l.querySelector("svg").dataset.points}))`, &lots)
	if len(lots) != 3 || lots[0].ID != "hnp-cat-linh" || lots[0].Points == 0 {
		t.Errorf("hn-parking lots on the page: %+v", lots)
	}
	var metroHidden bool
	b.Eval(ctx, `document.getElementById("stations-card").hidden && !document.getElementById("parking-card").hidden`, &metroHidden)
	if !metroHidden {
		t.Errorf("the parking operator's page shows the metro panels, or hides its lots")
	}
	if err := b.Screenshot(ctx, filepath.Join(shots, "2-hn-parking.png"), true); err != nil {
		t.Fatal(err)
	}
	if logs := b.Logs(); len(logs) > 0 {
		t.Errorf("page console: %v", logs)
	}

	// Freshness: real taps through gates, each polled for in today's
	// aggregates from the moment its gate had the decision.
	_, face := p.rider("001090077777")
	in := p.rawGate("hn2a-lang", "hn2a-lang-in07")
	out := p.rawGate("hn2a-ha-dong", "hn2a-ha-dong-out07")
	var lags []time.Duration
	for i := 0; i < 6; i++ {
		g, kind := in, proto.KindMetroEntry
		if i%2 == 1 {
			g, kind = out, proto.KindMetroExit
		}
		before := todayTaps(t, p, metro)
		wantReason(t, string(kind), g.send(kind, p.assertion(face, g.dev)), proto.ReasonOK)
		decided := time.Now()
		for todayTaps(t, p, metro) != before+1 {
			if time.Since(decided) > 10*time.Second {
				t.Fatalf("tap %d is not in the dashboard after 10 s", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
		lags = append(lags, time.Since(decided).Round(time.Millisecond))
		time.Sleep(time.Duration(137*i%500) * time.Millisecond) // land at different points of the export interval
	}
	slices.Sort(lags)
	t.Logf("freshness of %d taps (export interval 500 ms): min %s, median %s, max %s", len(lags), lags[0], lags[len(lags)/2], lags[len(lags)-1])
	if lags[len(lags)-1] > 3*time.Second {
		t.Errorf("freshness %v, want within a few seconds", lags)
	}
}

func todayTaps(t *testing.T, p *platform, tok string) int {
	t.Helper()
	st, out := p.call("GET", "/v1/dashboard/stations?line=hn2a", tok, nil)
	if st != 200 {
		t.Fatalf("stations: %d %v", st, out)
	}
	e, x, _ := sumSlots(out)
	return e + x
}
