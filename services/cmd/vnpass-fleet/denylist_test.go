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

// The fleet service fetches the fare service's deny list and pushes it to
// every gate; a changed list is a new version, an unchanged one is not
// pushed again until it is due for a refresh.
func TestDenyListReachesGates(t *testing.T) {
	var mu sync.Mutex
	subjects := []string{"vn_b", "vn_a"}
	var auth string
	fare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		auth = r.Header.Get("Authorization")
		json.NewEncoder(w).Encode(map[string]any{"subjects": subjects})
	}))
	defer fare.Close()
	mq := testenv.Broker(t)
	m := &Main{Log: slog.New(slog.NewJSONHandler(testWriter{t}, nil)), Config: Config{
		MQTTURL: mq.URL, MQTTUser: mq.ServiceUser, MQTTPassword: mq.ServicePassword, Topics: mq.Topics,
		Instance: testenv.Name("t"), APIAddr: "127.0.0.1:0", APISecret: secret,
		DenyListURL: fare.URL, DenyListEvery: 50 * time.Millisecond, DenyListRefresh: time.Hour,
	}}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	site, id := testenv.Name("s"), testenv.Name("g")
	g := newGate(t, mq, site, id, testenv.Device(t, site, id), time.Now)
	g.heartbeat()
	next := func() proto.Config {
		t.Helper()
		select {
		case c := <-g.configs:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("no config reached the gate")
		}
		return proto.Config{}
	}
	c := next()
	if c.DenyList == nil || len(c.DenyList.Subjects) != 2 || c.DenyList.Subjects[0] != "vn_a" {
		t.Fatalf("first push %+v", c.DenyList)
	}
	first := c.DenyList.Version
	mu.Lock()
	claims, err := m.Auth.Parse(auth[len("Bearer "):])
	mu.Unlock()
	if err != nil || claims.Role != authjwt.RoleService {
		t.Errorf("the fleet asked with %+v %v", claims, err)
	}
	// Unchanged: nothing more is pushed.
	select {
	case c := <-g.configs:
		t.Fatalf("unchanged list pushed again: %+v", c.DenyList)
	case <-time.After(300 * time.Millisecond):
	}
	mu.Lock()
	subjects = append(subjects, "vn_c")
	mu.Unlock()
	c = next()
	if c.DenyList == nil || c.DenyList.Version <= first || len(c.DenyList.Subjects) != 3 {
		t.Fatalf("changed list %+v", c.DenyList)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }
