package dashhttp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/ridershipch"
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
