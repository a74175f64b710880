package vneid_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/services/vneidsim"
)

const (
	clientKey = "gate-client-key-0123456789"
	device    = "hn2a-cat-linh-g01"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// startSim runs the simulator on a real socket (on addr, or a free port if
// addr is "") and returns its base URL and an idempotent stop.
func startSim(t *testing.T, dir, addr string, clk *clock) (*vneidsim.Server, string, func()) {
	t.Helper()
	sim, err := vneidsim.New(vneidsim.Config{ClientKey: clientKey, Dir: dir, Now: clk.Now, Issuer: "https://vneid-sim.local"})
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sim.Serve(ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := sim.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if err := sim.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return sim, "http://" + ln.Addr().String(), stop
}

func enroll(t *testing.T, sim *vneidsim.Server) vneidsim.Enrolled {
	t.Helper()
	out, _, err := sim.Enroll(context.Background(), vneidsim.Enrollment{
		CCCD: "001090012345", FullName: "Nguyễn Văn An", DateOfBirth: "1990-05-17", Disabled: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTripEnrollMatchVerify(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 16, 17, 30, 0, 0, time.UTC)} // 00:30 on his birthday in Hà Nội
	sim, base, _ := startSim(t, "", "", clk)
	rider := enroll(t, sim)

	gate := &vneid.MatchClient{BaseURL: base, ClientKey: clientKey}
	ctx := context.Background()
	tok, exp, err := gate.Match(ctx, rider.FaceRef, device)
	if err != nil {
		t.Fatalf("Match: %v", err)
	}
	if !exp.Equal(clk.Now().Add(vneidsim.DefaultTTL)) {
		t.Fatalf("expires_at %v", exp)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	for _, leak := range []string{"001090012345", "Nguy", "1990", "full_name", "cccd", "birth"} {
		if strings.Contains(string(payload), leak) {
			t.Fatalf("assertion payload leaks %q: %s", leak, payload)
		}
	}

	v, err := vneid.NewVerifier(vneid.VerifierConfig{Issuer: "https://vneid-sim.local", JWKSURL: base + "/.well-known/jwks.json", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Refresh(ctx); err != nil {
		t.Fatalf("Refresh over HTTP: %v", err)
	}
	a, err := v.Verify(ctx, tok, device)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if a.Subject != rider.Subject || a.Audience != device || a.Level != 2 || a.Age != 36 || !a.Disabled || a.Meritorious || a.JTI == "" || !a.ExpiresAt.Equal(exp) {
		t.Fatalf("assertion = %+v", a)
	}
	if _, err := v.Verify(ctx, tok, "hn2a-cat-linh-g02"); !errors.Is(err, identity.ErrAssertionWrongDevice) {
		t.Fatalf("other gate: %v", err)
	}
	clk.Add(vneidsim.DefaultTTL + vneid.DefaultLeeway)
	if _, err := v.Verify(ctx, tok, device); !errors.Is(err, identity.ErrAssertionExpired) {
		t.Fatalf("after TTL: %v", err)
	}

	// A verifier trusting another issuer refuses the sim's assertions.
	other, _ := vneid.NewVerifier(vneid.VerifierConfig{Issuer: "https://vneid.gov.vn", JWKSURL: base + "/.well-known/jwks.json", Now: clk.Now})
	tok2, _, _ := gate.Match(ctx, rider.FaceRef, device)
	if _, err := other.Verify(ctx, tok2, device); !errors.Is(err, identity.ErrAssertionInvalid) {
		t.Fatalf("wrong issuer: %v", err)
	}
}

func TestMatchClientErrors(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)}
	sim, base, _ := startSim(t, "", "", clk)
	rider := enroll(t, sim)
	ctx := context.Background()

	if _, _, err := (&vneid.MatchClient{BaseURL: base, ClientKey: clientKey}).Match(ctx, "unknown-face", device); !errors.Is(err, vneid.ErrNoMatch) {
		t.Fatalf("unknown face: %v, want ErrNoMatch", err)
	}
	if _, _, err := (&vneid.MatchClient{BaseURL: base, ClientKey: "wrong-key-0123456789"}).Match(ctx, rider.FaceRef, device); !errors.Is(err, vneid.ErrUnauthorized) {
		t.Fatalf("wrong key: %v, want ErrUnauthorized", err)
	}
	_, _, err := (&vneid.MatchClient{BaseURL: base + "/wrong-prefix", ClientKey: clientKey}).Match(ctx, rider.FaceRef, device)
	if err == nil || errors.Is(err, vneid.ErrNoMatch) {
		t.Fatalf("wrong base URL: %v, want an error that is not ErrNoMatch", err)
	}
	if _, _, err := (&vneid.MatchClient{BaseURL: base, ClientKey: clientKey}).Match(ctx, rider.FaceRef, "bad device"); err == nil {
		t.Fatal("invalid device accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := (&vneid.MatchClient{BaseURL: base, ClientKey: clientKey, HTTP: &http.Client{}}).Match(cctx, rider.FaceRef, device); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestRotationThroughSim(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)}
	sim, base, _ := startSim(t, "", "", clk)
	rider := enroll(t, sim)
	ctx := context.Background()
	gate := &vneid.MatchClient{BaseURL: base, ClientKey: clientKey}
	v, _ := vneid.NewVerifier(vneid.VerifierConfig{Issuer: "https://vneid-sim.local", JWKSURL: base + "/.well-known/jwks.json", Now: clk.Now})

	oldTok, _, _ := gate.Match(ctx, rider.FaceRef, device)
	if _, err := v.Verify(ctx, oldTok, device); err != nil {
		t.Fatal(err)
	}
	oldKid := sim.SigningKID()

	// Rotate over the admin endpoint, as an operator would.
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/admin/rotate", nil)
	req.Header.Set("Authorization", "Bearer "+clientKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("rotate: %v %v", resp, err)
	}
	resp.Body.Close()
	if sim.SigningKID() == oldKid {
		t.Fatal("rotation did not change the signing key")
	}

	newTok, _, _ := gate.Match(ctx, rider.FaceRef, device)
	clk.Add(vneid.DefaultRefetchInterval) // the start-up fetch was just now
	if _, err := v.Verify(ctx, newTok, device); err != nil {
		t.Fatalf("new-key token after rotation: %v", err)
	}
	if _, err := v.Verify(ctx, oldTok, device); err != nil {
		t.Fatalf("old-key token while still published: %v", err)
	}
	if err := sim.RemoveKey(ctx, oldKid); err != nil {
		t.Fatal(err)
	}
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, oldTok, device); !errors.Is(err, identity.ErrAssertionInvalid) {
		t.Fatalf("old-key token after removal: %v", err)
	}
}

func TestSimRestartKeepsSubjectsAndKeys(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	ctx := context.Background()
	sim, base, stop := startSim(t, dir, "", clk)
	rider := enroll(t, sim)
	v, _ := vneid.NewVerifier(vneid.VerifierConfig{Issuer: "https://vneid-sim.local", JWKSURL: base + "/.well-known/jwks.json", Now: clk.Now})
	before, _, err := (&vneid.MatchClient{BaseURL: base, ClientKey: clientKey}).Match(ctx, rider.FaceRef, device)
	if err != nil {
		t.Fatal(err)
	}
	a1, err := v.Verify(ctx, before, device)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(base, "http://")
	stop()

	sim2, base2, _ := startSim(t, dir, addr, clk)
	if again := enroll(t, sim2); again != rider {
		t.Fatalf("after restart enrolled as %+v, was %+v", again, rider)
	}
	after, _, err := (&vneid.MatchClient{BaseURL: base2, ClientKey: clientKey}).Match(ctx, rider.FaceRef, device)
	if err != nil {
		t.Fatal(err)
	}
	// Same keys: the verifier's cache still covers the restarted provider, no refetch needed.
	a2, err := v.Verify(ctx, after, device)
	if err != nil {
		t.Fatalf("token from restarted sim: %v", err)
	}
	if a2.Subject != a1.Subject {
		t.Fatalf("subject changed across restart: %s vs %s", a2.Subject, a1.Subject)
	}
}
