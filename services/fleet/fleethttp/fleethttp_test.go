package fleethttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/fleet"
	"github.com/vnpass/vnpass/services/fleet/fleethttp"
)

var t0 = time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC)

type pusher struct {
	mu   sync.Mutex
	got  []proto.Config
	fail error
	f    *fleet.Fleet
}

func (p *pusher) Push(_ context.Context, c proto.Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.got = append(p.got, c)
	p.f.ApplyConfig(c, t0)
	return nil
}

type api struct {
	t      *testing.T
	fleet  *fleet.Fleet
	push   *pusher
	auth   *authjwt.Issuer
	now    time.Time
	ready  error
	handle func(method, path, token, body string) (int, string, []byte)
}

func newAPI(t *testing.T) *api {
	a := &api{t: t, fleet: fleet.New(), now: t0}
	a.push = &pusher{f: a.fleet}
	var err error
	if a.auth, err = authjwt.New([]byte(strings.Repeat("k", 32)), func() time.Time { return t0 }); err != nil {
		t.Fatal(err)
	}
	app := fleethttp.New(fleethttp.Config{
		Fleet: a.fleet, Pusher: a.push, Auth: a.auth, Now: func() time.Time { return a.now },
		Ready:   func() error { return a.ready },
		Metrics: func(time.Time) string { return "vnpass_fleet_devices 0\n" },
		Log:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	a.handle = func(method, path, token, body string) (int, string, []byte) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}
	return a
}

func (a *api) token(role authjwt.Role) string {
	tok, err := a.auth.Issue("tester", role, time.Hour)
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

func (a *api) status(site, dev string, state proto.State, heard time.Time, configVersion int64) {
	a.fleet.ApplyStatus(fleet.Status{Status: proto.Status{V: 1, Device: dev, Site: site, Kind: proto.KindMetroEntry,
		State: state, Software: "vnpass-agent/0.2.0", QueueDepth: 4, At: proto.At(heard.Add(-time.Second)),
		HeartbeatS: 30, ConfigVersion: configVersion}, Heard: heard, Live: true})
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func TestReadAccess(t *testing.T) {
	a := newAPI(t)
	a.status("s1", "g01", proto.StateOnline, t0, 0)
	for _, c := range []struct {
		token string
		want  int
	}{
		{"", 401}, {"garbage", 401}, {a.token(authjwt.RoleRider), 403},
		{a.token(authjwt.RoleOperator), 200}, {a.token(authjwt.RoleAdmin), 200},
	} {
		for _, path := range []string{"/v1/devices", "/v1/devices/s1/g01"} {
			code, ctype, body := a.handle("GET", path, c.token, "")
			if code != c.want {
				t.Errorf("GET %s with %.10q: %d %s, want %d", path, c.token, code, body, c.want)
			}
			if code >= 400 {
				p := decode[map[string]any](t, body)
				if ctype != "application/problem+json" || p["status"] != float64(code) || p["type"] == "" || p["detail"] == "" {
					t.Errorf("GET %s: problem %s (%s)", path, body, ctype)
				}
			}
		}
	}
	op := a.token(authjwt.RoleOperator)
	if code, _, body := a.handle("GET", "/v1/devices/s1/g99", op, ""); code != 404 {
		t.Errorf("unknown device: %d %s", code, body)
	}
	if code, _, body := a.handle("GET", "/v1/devices/S1/g01", op, ""); code != 400 {
		t.Errorf("bad site id: %d %s", code, body)
	}
	if code, _, body := a.handle("GET", "/v1/devices?state=sleeping", op, ""); code != 400 {
		t.Errorf("bad state: %d %s", code, body)
	}
}

func TestDeviceView(t *testing.T) {
	a := newAPI(t)
	a.status("s1", "g01", proto.StateOnline, t0.Add(-10*time.Second), 0)
	a.status("s1", "g02", proto.StateOnline, t0.Add(-2*time.Minute), 0) // missed 3 heartbeats of 30 s
	a.status("s2", "g03", proto.StateOffline, t0, 0)
	op := a.token(authjwt.RoleOperator)

	code, _, body := a.handle("GET", "/v1/devices/s1/g01", op, "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	d := decode[fleethttp.DeviceJSON](t, body)
	if d.State != proto.StateOnline || d.Kind != proto.KindMetroEntry || d.Software != "vnpass-agent/0.2.0" || d.QueueDepth != 4 ||
		d.HeartbeatS != 30 || d.Overdue || d.SilentS == nil || *d.SilentS != 10 ||
		d.ClockOffsetMS == nil || *d.ClockOffsetMS != 1000 || d.ClockSource != "fleet" || d.Config.Pushed != nil {
		t.Errorf("device %s", body)
	}

	for _, c := range []struct {
		query string
		want  []string
		sum   fleet.Summary
	}{
		{"", []string{"g01", "g02", "g03"}, fleet.Summary{Devices: 3, Online: 2, Offline: 1, Overdue: 1, QueuedTaps: 12}},
		{"?overdue=true", []string{"g02"}, fleet.Summary{Devices: 1, Online: 1, Overdue: 1, QueuedTaps: 4}},
		{"?site=s2", []string{"g03"}, fleet.Summary{Devices: 1, Offline: 1, QueuedTaps: 4}},
		{"?state=online&site=s1", []string{"g01", "g02"}, fleet.Summary{Devices: 2, Online: 2, Overdue: 1, QueuedTaps: 8}},
		{"?pending=true", nil, fleet.Summary{}},
	} {
		code, _, body := a.handle("GET", "/v1/devices"+c.query, op, "")
		if code != 200 {
			t.Fatalf("%s: %d %s", c.query, code, body)
		}
		l := decode[fleethttp.ListJSON](t, body)
		var got []string
		for _, d := range l.Devices {
			got = append(got, d.Device)
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") || l.Summary != c.sum {
			t.Errorf("%q: %v %+v, want %v %+v", c.query, got, l.Summary, c.want, c.sum)
		}
	}
}

func TestPush(t *testing.T) {
	a := newAPI(t)
	a.status("s1", "g01", proto.StateOnline, t0, 0)
	admin, op := a.token(authjwt.RoleAdmin), a.token(authjwt.RoleOperator)
	const body = `{"decision_timeout_ms":1500,"heartbeat_s":30,"offline":{"max_entries_per_day":2,"deny_list_max_age_h":24,"pass_back_s":1200},
		"deny_list":{"version":12,"issued_at":"2026-11-24T00:00:00Z","subjects":["vn_4f1c9a","vn_77b0e2"]}}`

	if code, _, b := a.handle("POST", "/v1/devices/s1/g01/config", op, body); code != 403 {
		t.Fatalf("operator push: %d %s", code, b)
	}
	code, _, b := a.handle("POST", "/v1/devices/s1/g01/config", admin, body)
	if code != 202 {
		t.Fatalf("push: %d %s", code, b)
	}
	p := decode[fleethttp.PushJSON](t, b)
	if p.Version != t0.UnixMilli() || p.Site != "s1" || p.Device != "g01" || len(a.push.got) != 1 {
		t.Fatalf("push answer %s, pushed %d", b, len(a.push.got))
	}
	sent := a.push.got[0]
	if sent.DecisionTimeoutMS != 1500 || sent.Offline == nil || sent.Offline.PassBackS != 1200 || sent.DenyList == nil ||
		len(sent.DenyList.Subjects) != 2 || sent.Kind != proto.KindMetroEntry || sent.HeartbeatS != 30 {
		t.Fatalf("pushed %+v", sent)
	}

	// Pending until the device says it applied it; the deny list is shown by version only.
	_, _, b = a.handle("GET", "/v1/devices?pending=true", op, "")
	if l := decode[fleethttp.ListJSON](t, b); len(l.Devices) != 1 || l.Devices[0].Config.Acked ||
		l.Devices[0].Config.Pushed.DenyList.Version != 12 || l.Devices[0].Config.Pushed.DenyList.Subjects != nil {
		t.Fatalf("pending: %s", b)
	}
	a.fleet.ApplyStatus(fleet.Status{Status: proto.Status{V: 1, Device: "g01", Site: "s1", Kind: proto.KindMetroEntry,
		State: proto.StateOnline, At: proto.At(t0), ConfigVersion: p.Version, DenyListVersion: 12}, Heard: t0.Add(time.Second), Live: true})
	_, _, b = a.handle("GET", "/v1/devices/s1/g01", op, "")
	if d := decode[fleethttp.DeviceJSON](t, b); !d.Config.Acked || d.Config.AckedAt == nil || !d.Config.AckedAt.Equal(t0.Add(time.Second)) ||
		d.Config.AppliedVersion != p.Version || !d.Config.DenyListAcked || d.Config.DenyListVersion != 12 {
		t.Fatalf("after the acknowledgement: %s", b)
	}

	for name, c := range map[string]struct {
		path, body string
		want       int
	}{
		"unknown field":            {"/v1/devices/s1/g01/config", `{"decision_timeout":1500}`, 400},
		"not JSON":                 {"/v1/devices/s1/g01/config", `decision_timeout_ms=1500`, 400},
		"version set":              {"/v1/devices/s1/g01/config", `{"version":99,"decision_timeout_ms":1500}`, 400},
		"device set":               {"/v1/devices/s1/g01/config", `{"device":"g02","decision_timeout_ms":1500}`, 400},
		"timeout out of range":     {"/v1/devices/s1/g01/config", `{"decision_timeout_ms":40000}`, 422},
		"other kind":               {"/v1/devices/s1/g01/config", `{"kind":"metro_exit"}`, 422},
		"unseen device, no kind":   {"/v1/devices/s1/g77/config", `{"decision_timeout_ms":1500}`, 404},
		"bad device id":            {"/v1/devices/s1/G77/config", `{"decision_timeout_ms":1500}`, 400},
		"site: kind given":         {"/v1/sites/s1/config", `{"kind":"metro_exit"}`, 400},
		"site: nothing heard":      {"/v1/sites/s9/config", `{"decision_timeout_ms":1500}`, 404},
		"site: bad config":         {"/v1/sites/s1/config", `{"heartbeat_s":2}`, 422},
		"deny list without issued": {"/v1/devices/s1/g01/config", `{"deny_list":{"version":13,"subjects":[]}}`, 422},
	} {
		if code, ctype, b := a.handle("POST", c.path, admin, c.body); code != c.want || ctype != "application/problem+json" {
			t.Errorf("%s: %d %s %s, want %d", name, code, ctype, b, c.want)
		}
	}
	if len(a.push.got) != 1 {
		t.Fatalf("refused requests pushed %d configs", len(a.push.got)-1)
	}

	// A device never heard of gets a config when its kind is given (retained, it finds it when it connects).
	if code, _, b := a.handle("POST", "/v1/devices/s1/g77/config", admin, `{"kind":"metro_exit","decision_timeout_ms":1500}`); code != 202 {
		t.Fatalf("push to a new device: %d %s", code, b)
	}

	// A whole site: every device there, a version each; what a push leaves out is kept.
	code, _, b = a.handle("POST", "/v1/sites/s1/config", admin, `{"drain_per_s":50}`)
	if code != 202 {
		t.Fatalf("site push: %d %s", code, b)
	}
	res := decode[struct{ Pushed []fleethttp.PushJSON }](t, b)
	if len(res.Pushed) != 2 || res.Pushed[0].Device != "g01" || res.Pushed[1].Device != "g77" {
		t.Fatalf("site push: %s", b)
	}
	last := a.push.got[len(a.push.got)-2]
	if last.Device != "g01" || last.DrainPerS != 50 || last.DecisionTimeoutMS != 1500 || last.DenyList == nil || last.Version <= p.Version {
		t.Fatalf("site push to g01: %+v", last)
	}

	// The broker away: nothing is recorded as pushed.
	a.push.fail = errors.New("broker away")
	if code, _, b := a.handle("POST", "/v1/devices/s1/g01/config", admin, `{"drain_per_s":60}`); code != 503 {
		t.Fatalf("push with the broker away: %d %s", code, b)
	}
	if d, _ := a.fleet.Device("s1", "g01"); d.Config.Config.DrainPerS != 50 {
		t.Fatalf("failed push recorded: %+v", d.Config.Config)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	a := newAPI(t)
	if code, _, b := a.handle("GET", "/healthz", "", ""); code != 200 {
		t.Fatalf("healthz: %d %s", code, b)
	}
	a.ready = errors.New("broker link down")
	if code, ctype, b := a.handle("GET", "/healthz", "", ""); code != 503 || ctype != "application/problem+json" {
		t.Fatalf("healthz down: %d %s", code, b)
	}
	if code, _, b := a.handle("GET", "/metrics", "", ""); code != 200 || !strings.Contains(string(b), "vnpass_fleet_devices") {
		t.Fatalf("metrics: %d %s", code, b)
	}
}

// With a scrape token, /metrics answers only a request that carries it.
func TestMetricsScrapeToken(t *testing.T) {
	app := fleethttp.New(fleethttp.Config{
		Fleet: fleet.New(), Pusher: &pusher{f: fleet.New()}, Now: func() time.Time { return t0 },
		Metrics:      func(time.Time) string { return "vnpass_fleet_devices 0\n" },
		MetricsToken: "scrape-secret",
		Log:          slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	for auth, want := range map[string]int{"": 401, "Bearer nope": 401, "scrape-secret": 401, "Bearer scrape-secret": 200} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Authorization %q: %d, want %d", auth, resp.StatusCode, want)
		}
	}
}
