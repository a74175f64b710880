package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/payment"
	"github.com/vnpass/vnpass/services/payhttp"
)

func TestLoadConfig(t *testing.T) {
	envOf := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	key := "PAY_SIM_CLIENT_KEY"
	def := config{Addr: "127.0.0.1:58092", Name: "paysim", ClientKey: "k", Balance: 10_000_000, HangFor: 2 * time.Minute}
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		want    config
		wantErr string
	}{
		{"defaults", nil, envOf(key, "k"), def, ""},
		{"env", nil, envOf(key, "k", "PAY_SIM_ADDR", ":1", "PAY_SIM_STATE", "/tmp/p.jsonl", "PAY_SIM_NAME", "napas-sim",
			"PAY_SIM_ADMIN_KEY", "a", "PAY_SIM_BALANCE", "500000", "PAY_SIM_HANG_FOR", "30s"),
			config{Addr: ":1", State: "/tmp/p.jsonl", Name: "napas-sim", ClientKey: "k", AdminKey: "a", Balance: 500_000, HangFor: 30 * time.Second}, ""},
		{"flags beat env", []string{"-addr", ":2", "-client-key", "f", "-balance", "1000"}, envOf(key, "k", "PAY_SIM_ADDR", ":1"),
			config{Addr: ":2", Name: "paysim", ClientKey: "f", Balance: 1000, HangFor: 2 * time.Minute}, ""},
		{"no client key", nil, envOf(), config{}, "client key is required"},
		{"fractional balance", nil, envOf(key, "k", "PAY_SIM_BALANCE", "10.5"), config{}, "balance"},
		{"negative balance", nil, envOf(key, "k", "PAY_SIM_BALANCE", "-1"), config{}, "balance"},
		{"bad hang-for", nil, envOf(key, "k", "PAY_SIM_HANG_FOR", "soon"), config{}, "hang-for"},
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

// The binary end to end on a free port: serves the client and admin APIs,
// persists across a restart, logs JSON without keys or account numbers, and
// stops cleanly on cancel even with an answer held.
func TestServe(t *testing.T) {
	const clientKey, adminKey = "cmd-test-client-key-0123456789", "cmd-test-admin-key-0123456789"
	state := filepath.Join(t.TempDir(), "pay-sim.jsonl")
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := config{Name: "paysim", State: state, ClientKey: clientKey, AdminKey: adminKey, Balance: 50_000, HangFor: time.Minute}
	ctx := context.Background()

	runOnce := func(body func(url string)) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- serve(sctx, log, cfg, ln) }()
		body("http://" + ln.Addr().String())
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("serve did not stop")
		}
	}

	var first payment.Result
	var token string
	runOnce(func(url string) {
		cl, err := payhttp.New(payhttp.Config{BaseURL: url, ClientKey: clientKey, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		l, err := cl.Link(ctx, payment.LinkRequest{Key: "l1", Subject: "vn_cmd", Method: payment.Bank, Account: "9704 1234 5678", ConsentVersion: "2026-01"})
		if err != nil {
			t.Fatal(err)
		}
		token = l.Token
		if first, err = cl.Debit(ctx, payment.DebitRequest{Key: "d1", Token: token, Amount: decimal.NewFromInt(26_000)}); err != nil || first.Status != payment.Approved {
			t.Fatalf("debit = %+v, %v", first, err)
		}
		// The admin API takes the admin key only.
		req, _ := http.NewRequest("PUT", url+"/v1/admin/sources/bank/970412345678", strings.NewReader(`{"behaviour":"timeout"}`))
		req.Header.Set("Authorization", "Bearer "+clientKey)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("admin with client key: %v %v", resp, err)
		}
		req, _ = http.NewRequest("PUT", url+"/v1/admin/sources/bank/970412345678", strings.NewReader(`{"behaviour":"timeout"}`))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var src map[string]any
		json.NewDecoder(resp.Body).Decode(&src)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || src["balance_vnd"] != float64(24_000) || src["behaviour"] != "timeout" {
			t.Fatalf("admin set: %d %v", resp.StatusCode, src)
		}
		// An answer held when the binary stops does not hold up the stop.
		go func() {
			_, _ = cl.Debit(ctx, payment.DebitRequest{Key: "held", Token: token, Amount: decimal.NewFromInt(1_000)})
		}()
		time.Sleep(100 * time.Millisecond)
	})
	runOnce(func(url string) {
		cl, _ := payhttp.New(payhttp.Config{BaseURL: url, ClientKey: clientKey, Timeout: 2 * time.Second})
		again, err := cl.Debit(ctx, payment.DebitRequest{Key: "d1", Token: token, Amount: decimal.NewFromInt(26_000)})
		if err != nil || again.Ref != first.Ref || !again.At.Equal(first.At) {
			t.Fatalf("after restart = %+v, %v; want %+v", again, err, first)
		}
		held, err := cl.Debit(ctx, payment.DebitRequest{Key: "held", Token: token, Amount: decimal.NewFromInt(1_000)})
		if err != nil || held.Status != payment.Approved {
			t.Fatalf("held debit after restart = %+v, %v", held, err)
		}
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `paysim_debit_replays_total 2`) {
			t.Fatalf("metrics:\n%s", b)
		}
	})

	out := logs.String()
	for _, secret := range []string{clientKey, adminKey, "970412345678", "9704 1234 5678"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	for _, want := range []string{`"msg":"pay-sim starting"`, `"msg":"pay-sim stopped"`, `"msg":"state replayed"`, `"masked":"•••• 5678"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
}

func TestServeBadConfig(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), slog.New(slog.DiscardHandler), config{ClientKey: "short", Balance: 1, HangFor: time.Second}, ln)
	if err == nil || !strings.Contains(err.Error(), "client key") {
		t.Fatalf("err = %v", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("listener left open after a bad config")
	}
}
