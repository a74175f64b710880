package vneidmatch_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/services/vneidsim"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/vneidmatch"
)

const clientKey = "test-client-key-0123456789"

func TestMatcher(t *testing.T) {
	sim, err := vneidsim.New(vneidsim.Config{ClientKey: clientKey})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sim.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sim.Shutdown(ctx)
		sim.Close()
	})
	base := "http://" + ln.Addr().String()
	enrolled, _, err := sim.Enroll(context.Background(), vneidsim.Enrollment{CCCD: "001090012345", FullName: "Nguyễn Văn An", DateOfBirth: "1990-05-17"})
	if err != nil {
		t.Fatal(err)
	}
	m := vneidmatch.Matcher{Client: &vneid.MatchClient{BaseURL: base, ClientKey: clientKey}}
	ctx := context.Background()

	assertion, exp, err := m.Match(ctx, enrolled.FaceRef, "hn2a-cat-linh-g01")
	if err != nil {
		t.Fatalf("enrolled face: %v", err)
	}
	if strings.Count(assertion, ".") != 2 || !exp.After(time.Now()) {
		t.Errorf("assertion %q expiring %v", assertion, exp)
	}

	_, _, err = m.Match(ctx, "no-such-face", "hn2a-cat-linh-g01")
	if !errors.Is(err, agent.ErrNoMatch) || !errors.Is(err, vneid.ErrNoMatch) {
		t.Errorf("unknown face: %v, want agent.ErrNoMatch and vneid.ErrNoMatch", err)
	}

	// A service that cannot answer is not a face that did not match.
	bad := vneidmatch.Matcher{Client: &vneid.MatchClient{BaseURL: base, ClientKey: "wrong-client-key-0000000"}}
	if _, _, err := bad.Match(ctx, enrolled.FaceRef, "hn2a-cat-linh-g01"); err == nil || errors.Is(err, agent.ErrNoMatch) {
		t.Errorf("wrong client key: %v, want an error that is not ErrNoMatch", err)
	}
	wrongURL := vneidmatch.Matcher{Client: &vneid.MatchClient{BaseURL: base + "/nowhere", ClientKey: clientKey}}
	if _, _, err := wrongURL.Match(ctx, enrolled.FaceRef, "hn2a-cat-linh-g01"); err == nil || errors.Is(err, agent.ErrNoMatch) {
		t.Errorf("wrong base URL: %v, want an error that is not ErrNoMatch", err)
	}
}
