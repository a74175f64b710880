package dashhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/services/accounthttp"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/ridershipch"
	"github.com/vnpass/vnpass/services/settlepg"
)

// fakeAggregates records the filters it was asked with.
type fakeAggregates struct{ sites, networks, lots ridershipch.Filter }

func (f *fakeAggregates) StationActivity(_ context.Context, _, _ time.Time, s ridershipch.Filter) ([]ridershipch.StationSlot, error) {
	f.sites = s
	return nil, nil
}
func (f *fakeAggregates) Journeys(_ context.Context, _, _ time.Time, n ridershipch.Filter) ([]ridershipch.JourneyCell, error) {
	f.networks = n
	return nil, nil
}
func (f *fakeAggregates) ParkingFlow(_ context.Context, _, _ time.Time, l ridershipch.Filter) ([]ridershipch.ParkingHour, error) {
	f.lots = l
	return nil, nil
}

// TestScopeFiltersQueriesAndDevices: an operator's queries ask only for its
// own stations, lines and lots, and the fleet's devices are filtered to its
// sites, with offline gates and queued taps counted.
func TestScopeFiltersQueriesAndDevices(t *testing.T) {
	fares, err := fare.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := parking.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	fleet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/devices" || r.Header.Get("Authorization") != "Bearer fleet-token" {
			w.WriteHeader(401)
			return
		}
		io.WriteString(w, `{"devices":[
			{"site":"hn2a-lang","device":"hn2a-lang-in01","state":"online","overdue":false,"queue_depth":0},
			{"site":"hn2a-lang","device":"hn2a-lang-in02","state":"offline","overdue":true,"queue_depth":17},
			{"site":"hcm1-ben-thanh","device":"hcm1-ben-thanh-in01","state":"offline","queue_depth":5}]}`)
	}))
	defer fleet.Close()
	agg := &fakeAggregates{}
	is, _ := authjwt.New([]byte("0123456789abcdef0123456789abcdef"), nil)
	app := fiber.New()
	v1 := app.Group("/v1", is.Middleware())
	Routes(Config{Aggregates: agg, Fares: fares, Lots: cat.Lots(), FleetURL: fleet.URL,
		FleetToken: func() (string, error) { return "fleet-token", nil }})(v1)
	get := func(path, tok string) (int, map[string]any) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := app.Test(req, 5000)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	metro, _ := is.IssueFor("lan", authjwt.RoleOperator, "hanoi-metro", time.Hour)
	if st, _ := get("/v1/dashboard/stations?day=2026-11-20", metro); st != 200 {
		t.Fatalf("stations: %d", st)
	}
	for _, s := range agg.sites {
		if s[:3] == "hcm" {
			t.Errorf("hanoi-metro's query asks for %s", s)
		}
	}
	if len(agg.sites) < 12 {
		t.Errorf("hanoi-metro's sites: %v", agg.sites)
	}
	get("/v1/dashboard/revenue", metro)
	if len(agg.networks) != 2 || agg.networks[0] != "hn2a" || agg.networks[1] != "hn3" {
		t.Errorf("hanoi-metro's lines: %v", agg.networks)
	}
	get("/v1/dashboard/parking", metro)
	if agg.lots == nil || len(agg.lots) != 0 {
		t.Errorf("hanoi-metro owns no lots, asked for %v", agg.lots)
	}
	st, out := get("/v1/dashboard/devices", metro)
	if ds, _ := out["devices"].([]any); st != 200 || len(ds) != 2 || out["offline"] != 1.0 || out["queued"] != 17.0 {
		t.Errorf("hanoi-metro's devices: %d %v", st, out)
	}
	if st, _ := get("/v1/dashboard/stations?day=yesterday", metro); st != 400 {
		t.Errorf("bad day: %d", st)
	}
	admin, _ := is.Issue("root", authjwt.RoleAdmin, time.Hour)
	get("/v1/dashboard/stations", admin)
	if len(agg.sites) < 30 {
		t.Errorf("admin's sites: %d", len(agg.sites))
	}
	if _, out := get("/v1/dashboard/devices", admin); len(out["devices"].([]any)) != 3 {
		t.Errorf("admin's devices: %v", out)
	}
}

// TestDisputesScoped: each operator lists the open disputes on its own
// lines and lots only, a rider by a short reference and never the subject;
// an admin lists all, including one whose charge says no line or lot.
func TestDisputesScoped(t *testing.T) {
	fares, err := fare.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := parking.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	ds := []Dispute{
		{ID: 3, Kind: "journey", ChargeID: 30, ChargedVND: 9000, Reason: "twice", CreatedAt: at, Subject: "vn_secret_subject_a", Line: "hn2a", Operator: "hanoi-metro"},
		{ID: 4, Kind: "journey", ChargeID: 40, ChargedVND: 7000, Reason: "twice", CreatedAt: at, Subject: "vn_secret_subject_b", Line: "hcm1", Operator: "hurc1"},
		{ID: 5, Kind: "parking_session", ChargeID: 50, ChargedVND: 5000, Reason: "barrier", CreatedAt: at, Subject: "vn_secret_subject_a", Lot: "hnp-cat-linh"},
		{ID: 6, Kind: "parking_session", ChargeID: 60, ChargedVND: 5000, Reason: "gone", CreatedAt: at, Subject: "vn_secret_subject_c"},
	}
	is, _ := authjwt.New([]byte("0123456789abcdef0123456789abcdef"), nil)
	app := fiber.New()
	audit := &memAudit{}
	v1 := app.Group("/v1", is.Middleware(), accounthttp.UseAuditor(audit, nil))
	Routes(Config{Aggregates: &fakeAggregates{}, Fares: fares, Lots: cat.Lots(), Now: func() time.Time { return at.Add(90 * time.Minute) },
		Disputes: func(context.Context) ([]Dispute, error) { return ds, nil }})(v1)
	list := func(tok string) (int, []map[string]any, string) {
		req := httptest.NewRequest("GET", "/v1/dashboard/disputes", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := app.Test(req, 5000)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		var out struct {
			Disputes []map[string]any `json:"disputes"`
		}
		json.Unmarshal(body, &out)
		return resp.StatusCode, out.Disputes, string(body)
	}
	ids := func(rows []map[string]any) []float64 {
		var out []float64
		for _, r := range rows {
			out = append(out, r["id"].(float64))
		}
		return out
	}
	metro, _ := is.IssueFor("lan", authjwt.RoleOperator, "hanoi-metro", time.Hour)
	hcm, _ := is.IssueFor("minh", authjwt.RoleOperator, "hurc1", time.Hour)
	park, _ := is.IssueFor("hoa", authjwt.RoleOperator, "hn-parking", time.Hour)
	admin, _ := is.Issue("root", authjwt.RoleAdmin, time.Hour)
	rider, _ := is.Issue("vn_secret_subject_a", authjwt.RoleRider, time.Hour)
	for name, c := range map[string]struct {
		tok  string
		want []float64
	}{"hanoi-metro": {metro, []float64{3}}, "hurc1": {hcm, []float64{4}}, "hn-parking": {park, []float64{5}}, "admin": {admin, []float64{3, 4, 5, 6}}} {
		st, rows, body := list(c.tok)
		if st != 200 || fmt.Sprint(ids(rows)) != fmt.Sprint(c.want) {
			t.Errorf("%s: %d %v, want %v", name, st, ids(rows), c.want)
		}
		if strings.Contains(body, "secret") {
			t.Errorf("%s: the answer names a rider: %s", name, body)
		}
	}
	// Each staff read of the queue is in the audit log, with its purpose.
	if len(audit.entries) != 4 || audit.entries[0].Action != "disputes.queue" || audit.entries[0].Reason == "" {
		t.Errorf("audit entries %+v, want the 4 reads of the queue", audit.entries)
	}
	_, rows, _ := list(metro)
	if len(rows) == 1 && (rows[0]["rider"] != riderRef("vn_secret_subject_a") || rows[0]["age_s"] != 5400.0 || rows[0]["where_name"] == "") {
		t.Errorf("hanoi-metro's dispute: %v", rows[0])
	}
	if st, _, _ := list(rider); st != 403 {
		t.Errorf("a rider reads the dispute panel: %d", st)
	}
}

// memAudit records audit entries in memory.
type memAudit struct {
	mu      sync.Mutex
	entries []settlepg.AuditEntry
}

func (m *memAudit) Audit(_ context.Context, e settlepg.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = append(m.entries, e)
	return nil
}
