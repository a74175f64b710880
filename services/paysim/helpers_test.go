package paysim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/payment"
)

const (
	testClientKey = "paysim-test-client-key-0123"
	testAdminKey  = "paysim-test-admin-key-45678"
)

// clock is a settable clock; each reading advances it a millisecond so
// decisions have distinct, ordered times.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 24, 7, 30, 0, 0, fare.Zone)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newSim(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.ClientKey == "" {
		cfg.ClientKey = testClientKey
	}
	if cfg.AdminKey == "" {
		cfg.AdminKey = testAdminKey
	}
	if cfg.Now == nil {
		cfg.Now = newClock().Now
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dong(v int64) decimal.Decimal { return decimal.NewFromInt(v) }

func mustLink(t testing.TB, s *Server, key string, m payment.Method, account string) payment.Link {
	t.Helper()
	l, err := s.Link(context.Background(), payment.LinkRequest{Key: key, Subject: "vn_rider_" + key, Method: m, Account: account, ConsentVersion: "2026-01"})
	if err != nil {
		t.Fatalf("link %s: %v", account, err)
	}
	return l
}

func balance(t testing.TB, s *Server, m payment.Method, account string) decimal.Decimal {
	t.Helper()
	src, err := s.Source(context.Background(), m, account)
	if err != nil {
		t.Fatal(err)
	}
	return src.Balance
}

// do sends one request to the simulator's handler.
func do(t testing.TB, s *Server, method, path, auth string, hdr map[string]string, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewBufferString(body))
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	var out map[string]any
	if w.Body.Len() > 0 && (w.Header().Get("Content-Type") == "application/json" || w.Header().Get("Content-Type") == "application/problem+json") {
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: undecodable body %q", method, path, w.Body.String())
		}
	}
	return w, out
}

func sameResult(a, b payment.Result) bool {
	return a.Status == b.Status && a.Ref == b.Ref && a.DeclineCode == b.DeclineCode && a.Amount.Equal(b.Amount) && a.At.Equal(b.At)
}

func sameSettlement(a, b payment.Settlement) bool {
	return a.Key == b.Key && a.Ref == b.Ref && a.Amount.Equal(b.Amount) && a.At.Equal(b.At)
}
