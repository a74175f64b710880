package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	envOf := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	key := "VNEID_SIM_CLIENT_KEY"
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		want    config
		wantErr string
	}{
		{"defaults", nil, envOf(key, "k"), config{Addr: "127.0.0.1:58090", ClientKey: "k", Issuer: "https://vneid-sim.local", RelyingParty: "vnpass", TTL: 60 * time.Second}, ""},
		{"env", nil, envOf(key, "k", "VNEID_SIM_ADDR", ":1", "VNEID_SIM_DIR", "/tmp/s", "VNEID_SIM_ISSUER", "https://i", "VNEID_SIM_TTL", "30"),
			config{Addr: ":1", Dir: "/tmp/s", ClientKey: "k", Issuer: "https://i", RelyingParty: "vnpass", TTL: 30 * time.Second}, ""},
		{"flags beat env", []string{"-addr", ":2", "-ttl", "2m", "-client-key", "f"}, envOf(key, "k", "VNEID_SIM_ADDR", ":1"),
			config{Addr: ":2", ClientKey: "f", Issuer: "https://vneid-sim.local", RelyingParty: "vnpass", TTL: 2 * time.Minute}, ""},
		{"no client key", nil, envOf(), config{}, "client key is required"},
		{"bad ttl", nil, envOf(key, "k", "VNEID_SIM_TTL", "soon"), config{}, "ttl"},
		{"stray arg", []string{"extra"}, envOf(key, "k"), config{}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(tt.args, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("loadConfig = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The binary end to end on a free port: serves, persists, logs JSON without
// personal data or the client key, and stops cleanly on cancel.
func TestServe(t *testing.T) {
	const clientKey = "cmd-test-client-key-0123456789"
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{Addr: ln.Addr().String(), Dir: t.TempDir(), ClientKey: clientKey, Issuer: "https://vneid-sim.local", RelyingParty: "vnpass", TTL: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, log, cfg, ln) }()
	base := "http://" + ln.Addr().String()

	post := func(path, auth, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		data, _ := io.ReadAll(resp.Body)
		json.Unmarshal(data, &out)
		return resp.StatusCode, out
	}
	status, enrolled := post("/v1/citizens", "", `{"cccd":"001090012345","full_name":"Nguyễn Văn An","date_of_birth":"1990-05-17","disabled":false,"meritorious":false}`)
	if status != http.StatusCreated {
		t.Fatalf("enroll: %d %v", status, enrolled)
	}
	status, matched := post("/v1/match", clientKey, `{"face_ref":"`+enrolled["face_ref"].(string)+`","device":"hn2a-cat-linh-g01"}`)
	if status != http.StatusOK || matched["assertion"] == nil {
		t.Fatalf("match: %d %v", status, matched)
	}
	if status, _ := post("/v1/admin/rotate", clientKey, ""); status != http.StatusOK {
		t.Fatalf("rotate: %d", status)
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}

	out := logs.String()
	for _, want := range []string{`"msg":"vneid-sim starting"`, `"msg":"citizen enrolled"`, `"msg":"signing key rotated"`, `"msg":"vneid-sim stopped"`, enrolled["subject"].(string)} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	for _, leak := range []string{"001090012345", "Nguy", "1990-05-17", clientKey} {
		if strings.Contains(out, leak) {
			t.Errorf("logs contain %q:\n%s", leak, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
}
