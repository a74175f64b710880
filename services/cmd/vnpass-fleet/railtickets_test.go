package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
)

// The fleet service fetches each rail station's tickets from the fare
// service and pushes them to that station's rail gates only; a changed
// list is a new version, an unchanged one is not pushed again until it is
// due for a refresh; the gate's acknowledgement shows in the view.
func TestRailTicketsReachRailGates(t *testing.T) {
	site := testenv.Name("ga")
	var mu sync.Mutex
	now := time.Now()
	tickets := []proto.GateTicket{{ID: 1, Subject: "vn_a", Train: "SE1", Departure: proto.At(now.Add(30 * time.Minute)), Coach: "5", Seat: "21"}}
	var asked []string
	var auth string
	fare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		auth = r.Header.Get("Authorization")
		asked = append(asked, r.URL.Query().Get("station")+"/"+r.URL.Query().Get("hours"))
		json.NewEncoder(w).Encode(map[string]any{"station": "HNO", "site": site,
			"from": proto.At(now.Add(-5 * time.Minute)), "until": proto.At(now.Add(6 * time.Hour)),
			"admit_before_s": 3600, "admit_after_s": 300, "tickets": tickets})
	}))
	defer fare.Close()
	mq := testenv.Broker(t)
	m := &Main{Log: slog.New(slog.NewJSONHandler(testWriter{t}, nil)), Config: Config{
		MQTTURL: mq.URL, MQTTUser: mq.ServiceUser, MQTTPassword: mq.ServicePassword, Topics: mq.Topics,
		Instance: testenv.Name("t"), APIAddr: "127.0.0.1:0", APISecret: secret,
		RailTicketsURL: fare.URL + "/v1/rail/tickets", RailTicketsEvery: 50 * time.Millisecond, RailTicketsRefresh: time.Hour,
	}}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rid, mid := testenv.Name("g"), testenv.Name("m")
	g := newGate(t, mq, site, rid, testenv.Device(t, site, rid), time.Now)
	g.kind = proto.KindRailGate
	g.heartbeat()
	metro := newGate(t, mq, site, mid, testenv.Device(t, site, mid), time.Now)
	metro.heartbeat()
	next := func() proto.Config {
		t.Helper()
		select {
		case c := <-g.configs:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("no config reached the rail gate")
		}
		return proto.Config{}
	}
	c := next()
	if l := c.Tickets; l == nil || l.Station != "HNO" || len(l.Tickets) != 1 || l.Tickets[0].Subject != "vn_a" || l.AdmitBeforeS != 3600 || c.DecisionTimeoutMS != defaultDecisionTimeoutMS {
		t.Fatalf("first push %+v", c)
	}
	first := c.Tickets.Version
	mu.Lock()
	claims, err := m.Auth.Parse(auth[len("Bearer "):])
	if asked[0] != site+"/6" {
		t.Errorf("asked for %q, want %s/6", asked[0], site)
	}
	mu.Unlock()
	if err != nil || claims.Role != authjwt.RoleService {
		t.Errorf("the fleet asked with %+v %v", claims, err)
	}
	// The gate acknowledges; the view shows it.
	g.applied, g.tickets = c.Version, first
	g.heartbeat()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if d, _ := m.Fleet.Device(site, rid); d.AppliedTickets == first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gate's acknowledgement of the ticket list is not in the view")
		}
	}
	// Unchanged: nothing more is pushed.
	select {
	case c := <-g.configs:
		t.Fatalf("unchanged list pushed again: %+v", c.Tickets)
	case <-time.After(300 * time.Millisecond):
	}
	mu.Lock()
	tickets = append(tickets, proto.GateTicket{ID: 2, Subject: "vn_b", Train: "SE3", Departure: proto.At(now.Add(2 * time.Hour)), Coach: "1", Seat: "4"})
	mu.Unlock()
	c = next()
	if c.Tickets == nil || c.Tickets.Version <= first || len(c.Tickets.Tickets) != 2 {
		t.Fatalf("changed list %+v", c.Tickets)
	}
	// The metro gate of the same site never got a ticket list.
	select {
	case c := <-metro.configs:
		t.Fatalf("a metro gate got config %+v", c)
	default:
	}
}

func TestRailTicketsConfigFromEnv(t *testing.T) {
	env := map[string]string{"VNPASS_MQTT_URL": "tcp://127.0.0.1:1", "VNPASS_API_SECRET": secret,
		"VNPASS_RAIL_TICKETS_URL": "http://127.0.0.1:58080/v1/rail/tickets", "VNPASS_RAIL_TICKETS_EVERY": "30s", "VNPASS_RAIL_TICKETS_HOURS": "4"}
	get := func(k string) string { return env[k] }
	c, err := ConfigFromEnv(get)
	if err != nil {
		t.Fatal(err)
	}
	if c.RailTicketsURL == "" || c.RailTicketsEvery != 30*time.Second || c.RailTicketsHours != 4 || c.RailTicketsRefresh != time.Hour {
		t.Fatalf("rail tickets config %+v", c)
	}
	for k, v := range map[string]string{"VNPASS_RAIL_TICKETS_HOURS": "25", "VNPASS_RAIL_TICKETS_EVERY": "2h"} {
		old := env[k]
		env[k] = v
		if _, err := ConfigFromEnv(get); err == nil {
			t.Errorf("%s=%q accepted", k, v)
		}
		env[k] = old
	}
	// Refreshed no sooner than the list covers: gates would go stale.
	env["VNPASS_RAIL_TICKETS_HOURS"] = "1"
	if _, err := ConfigFromEnv(get); err == nil {
		t.Error("a one-hour list refreshed hourly accepted")
	}
}
