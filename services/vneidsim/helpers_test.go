package vneidsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

const testKey = "test-client-key-0123456789"

// clock is a settable Now for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2026, 3, 10, 8, 0, 0, 0, vnZone)

func newTestServer(t *testing.T, dir string, clk *clock) *Server {
	t.Helper()
	s, err := New(Config{ClientKey: testKey, Dir: dir, Now: clk.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var an = Enrollment{CCCD: "001090012345", FullName: "Nguyễn Văn An", DateOfBirth: "1990-05-17"}

// do sends a request to the fiber app in-process and decodes the JSON answer.
func do(t *testing.T, s *Server, method, path, auth string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = bytes.NewBufferString(b)
		default:
			data, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(data)
		}
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.App().Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 && json.Unmarshal(data, &out) != nil {
		t.Fatalf("%s %s: not JSON: %q", method, path, data)
	}
	return resp.StatusCode, out
}

func bearer(k string) string { return "Bearer " + k }

var _ = http.MethodPost
