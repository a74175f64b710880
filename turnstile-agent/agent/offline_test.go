package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/proto"
)

// clock is a settable wall clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// faceMatcher: every face matches; the assertion names the face in its
// middle segment and expires a minute after the clock.
type faceMatcher struct{ now func() time.Time }

func (m faceMatcher) Match(_ context.Context, face, _ string) (string, time.Time, error) {
	return "eyJhbGciOiJFZERTQSJ9." + face + ".c2ln", m.now().Add(time.Minute), nil
}

// faceVerifier: subject "vn_" + face; "forged-*" faces do not verify.
type faceVerifier struct{ keys bool }

func (v faceVerifier) HasKeys() bool { return v.keys }
func (v faceVerifier) VerifyAt(_ context.Context, token, _ string, _ time.Time) (identity.Assertion, error) {
	face := strings.Split(token, ".")[1]
	if strings.HasPrefix(face, "forged") {
		return identity.Assertion{}, identity.ErrAssertionInvalid
	}
	return identity.Assertion{Subject: "vn_" + face}, nil
}

type recGate struct {
	mu   sync.Mutex
	last proto.Display
	open bool
}

func (g *recGate) Open(d proto.Display)   { g.mu.Lock(); g.last, g.open = d, true; g.mu.Unlock() }
func (g *recGate) Refuse(d proto.Display) { g.mu.Lock(); g.last, g.open = d, false; g.mu.Unlock() }

type offlineRig struct {
	t   *testing.T
	clk *clock
	cfg Config
	a   *Agent
}

func newOfflineRig(t *testing.T, kind proto.Kind, dir string, v Verifier) *offlineRig {
	clk := &clock{t: time.Date(2026, 11, 24, 7, 0, 0, 0, vnZone)}
	r := &offlineRig{t: t, clk: clk, cfg: Config{
		Device: "hn2a-cat-linh-g01", Site: "hn2a-cat-linh", Kind: kind,
		Matcher: faceMatcher{clk.Now}, Gate: &recGate{}, Now: clk.Now, Dir: dir, Verifier: v,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
	r.start()
	return r
}

func (r *offlineRig) start() {
	a, err := New(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	r.a = a
	r.t.Cleanup(a.Close)
}

// push applies a config as if the cloud had pushed it.
func (r *offlineRig) push(version int64, policy proto.OfflinePolicy, deny *proto.DenyList) {
	b, err := proto.Config{Version: version, Device: r.cfg.Device, Site: r.cfg.Site, Kind: r.cfg.Kind,
		DecisionTimeoutMS: 2000, IssuedAt: proto.At(r.clk.Now()), Offline: &policy, DenyList: deny}.Encode()
	if err != nil {
		r.t.Fatal(err)
	}
	r.a.onConfig(b)
}

// want taps face (never connected: decided offline) and checks the rule.
func (r *offlineRig) want(face string, open bool, reason proto.Reason, rule string) {
	r.t.Helper()
	r.wantPlate(face, "", open, reason, rule)
}

// wantPlate is want at a barrier whose plate reader read plate.
func (r *offlineRig) wantPlate(face, plate string, open bool, reason proto.Reason, rule string) proto.Tap {
	r.t.Helper()
	res, err := r.a.Tap(context.Background(), face, plate)
	if err != nil {
		r.t.Fatalf("%s: %v", face, err)
	}
	if !res.Offline || res.Decision.Open != open || res.Decision.Reason != reason {
		r.t.Fatalf("%s: %+v, want offline open=%v %s", face, res.Decision, open, reason)
	}
	b, err := r.a.st.q.Scan(0, 0, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	last, err := proto.DecodeTap(b[len(b)-1].Payload)
	if err != nil || last.EventID != res.EventID || last.Offline == nil || last.Offline.Rule != rule || last.Offline.Reason != reason {
		r.t.Fatalf("%s: queued tap %+v (%v), want rule %s", face, last.Offline, err, rule)
	}
	g := r.cfg.Gate.(*recGate)
	if g.open != open || g.last.VI == "" || g.last.EN == "" {
		r.t.Fatalf("%s: gate open=%v showing %+v", face, g.open, g.last)
	}
	return last
}

// Parking barriers: the plate goes with the tap; an entry whose plate was
// not read is refused offline (the exit could not be matched to the
// vehicle), an exit opens without one. Other gates send no plate.
func TestOfflineParking(t *testing.T) {
	r := newOfflineRig(t, proto.KindParkingEntry, t.TempDir(), faceVerifier{keys: true})
	r.push(1, proto.OfflinePolicy{MaxEntriesPerDay: 2, DenyListMaxAgeH: 24}, &proto.DenyList{Version: 1, IssuedAt: proto.At(r.clk.Now())})
	r.wantPlate("a", "", false, proto.ReasonNoPlate, "no_plate")
	if tp := r.wantPlate("a", "29B1-123.45", true, proto.ReasonOK, "verified"); tp.Plate != "29B1-123.45" || tp.Kind != proto.KindParkingEntry {
		t.Fatalf("queued tap %+v", tp)
	}
	x := newOfflineRig(t, proto.KindParkingExit, t.TempDir(), faceVerifier{keys: true})
	x.wantPlate("a", "", true, proto.ReasonOK, "exit")
	m := newOfflineRig(t, proto.KindMetroExit, t.TempDir(), faceVerifier{keys: true})
	if tp := m.wantPlate("a", "29B1-123.45", true, proto.ReasonOK, "exit"); tp.Plate != "" {
		t.Fatalf("a metro tap carries plate %q", tp.Plate)
	}
}

func TestOfflineRules(t *testing.T) {
	dir := t.TempDir()
	r := newOfflineRig(t, proto.KindMetroEntry, dir, faceVerifier{keys: true})

	// The built-in policy wants a deny list under a day old: there is none.
	r.want("a", false, proto.ReasonOfflineUnavailable, "deny_list_stale")
	list := &proto.DenyList{Version: 3, IssuedAt: proto.At(r.clk.Now()), Subjects: []string{"vn_denied"}}
	r.push(1, proto.OfflinePolicy{MaxEntriesPerDay: 2, DenyListMaxAgeH: 24, PassBackS: 600}, list)

	r.want("forged-b", false, proto.ReasonAssertionInvalid, "assertion")
	r.want("denied", false, proto.ReasonAccountSuspended, "deny_list")
	r.want("a", true, proto.ReasonOK, "verified")
	r.want("a", false, proto.ReasonPassBack, "pass_back")
	r.clk.Add(11 * time.Minute)
	r.want("a", true, proto.ReasonOK, "verified")
	r.clk.Add(11 * time.Minute)
	r.want("a", false, proto.ReasonOfflineLimit, "offline_limit")
	if s := r.a.Stats(); s.OfflineOpened != 2 || s.OfflineRefused != 5 || s.QueueDepth != 7 {
		t.Errorf("stats %+v", s)
	}

	// A restart keeps the policy, the deny list and the day's entries.
	r.a.Close()
	r.start()
	r.want("denied", false, proto.ReasonAccountSuspended, "deny_list")
	r.want("a", false, proto.ReasonOfflineLimit, "offline_limit")
	if c, d := r.a.configVersions(); c != 1 || d != 3 {
		t.Errorf("after restart: config %d, deny list %d", c, d)
	}

	// A newer config without a deny list keeps the list; an older list
	// does not replace a newer one.
	r.push(2, proto.OfflinePolicy{MaxEntriesPerDay: 2, DenyListMaxAgeH: 24}, nil)
	r.push(3, proto.OfflinePolicy{MaxEntriesPerDay: 2, DenyListMaxAgeH: 24}, &proto.DenyList{Version: 2, IssuedAt: proto.At(r.clk.Now())})
	r.want("denied", false, proto.ReasonAccountSuspended, "deny_list")

	// The next local day: the limit starts again. The list is now stale.
	r.clk.Add(24 * time.Hour)
	r.want("a", false, proto.ReasonOfflineUnavailable, "deny_list_stale")
	r.push(4, proto.OfflinePolicy{MaxEntriesPerDay: 2, DenyListMaxAgeH: 24}, &proto.DenyList{Version: 5, IssuedAt: proto.At(r.clk.Now())})
	r.want("a", true, proto.ReasonOK, "verified")
	r.want("denied", true, proto.ReasonOK, "verified") // off the new list
}

// Exits open on any verified assertion: a rider is never held inside.
func TestOfflineExits(t *testing.T) {
	r := newOfflineRig(t, proto.KindMetroExit, t.TempDir(), faceVerifier{keys: true})
	r.push(1, proto.OfflinePolicy{MaxEntriesPerDay: 0, DenyListMaxAgeH: 1}, &proto.DenyList{Version: 1, IssuedAt: proto.At(r.clk.Now()), Subjects: []string{"vn_x"}})
	r.clk.Add(48 * time.Hour)
	for range 3 {
		r.want("x", true, proto.ReasonOK, "exit")
	}
	r.want("forged", false, proto.ReasonAssertionInvalid, "assertion")
}

// No keys to verify with: refused as the gate's failing, not the rider's.
func TestOfflineWithoutKeys(t *testing.T) {
	r := newOfflineRig(t, proto.KindMetroExit, t.TempDir(), faceVerifier{keys: false})
	r.want("a", false, proto.ReasonOfflineUnavailable, "no_keys")
	n := newOfflineRig(t, proto.KindMetroEntry, t.TempDir(), nil)
	n.want("a", false, proto.ReasonOfflineUnavailable, "no_keys")
}

// Concurrent offline taps of one rider cannot both pass the day's limit.
func TestOfflineLimitUnderConcurrency(t *testing.T) {
	r := newOfflineRig(t, proto.KindMetroEntry, t.TempDir(), faceVerifier{keys: true})
	r.push(1, proto.OfflinePolicy{MaxEntriesPerDay: 3}, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	opened := 0
	for range 20 {
		wg.Go(func() {
			res, err := r.a.Tap(context.Background(), "same", "")
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if res.Decision.Open {
				opened++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if opened != 3 {
		t.Errorf("%d of 20 concurrent taps of one rider opened, want the limit, 3", opened)
	}
}

// A state directory another agent holds cannot be opened twice.
func TestStateDirLocked(t *testing.T) {
	dir := t.TempDir()
	newOfflineRig(t, proto.KindMetroEntry, dir, nil)
	_, err := New(Config{Device: "g2", Site: "s", Kind: proto.KindMetroEntry, Matcher: faceMatcher{time.Now}, Gate: &recGate{}, Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second agent on one state directory: %v", err)
	}
}

// A config kept on disk that does not read back (a disk gone bad, a hand
// edit) is reported and ignored: the gate starts with its built-in policy.
func TestDamagedConfigOnDiskIgnored(t *testing.T) {
	dir := t.TempDir()
	r := newOfflineRig(t, proto.KindMetroEntry, dir, faceVerifier{keys: true})
	r.push(1, proto.OfflinePolicy{MaxEntriesPerDay: 2}, nil)
	r.a.Close()
	for _, junk := range []string{"", "{", `{"v":1,"version":5,"device":"other","site":"s","kind":"metro_entry","decision_timeout_ms":500,"issued_at":"2026-11-24T00:00:00Z"}`} {
		if err := os.WriteFile(filepath.Join(dir, configFileName), []byte(junk), 0o600); err != nil {
			t.Fatal(err)
		}
		r.start()
		if c, _ := r.a.configVersions(); c != 0 {
			t.Errorf("config %q: version %d in force", junk, c)
		}
		r.want("a", false, proto.ReasonOfflineUnavailable, "deny_list_stale") // the built-in policy
		r.a.Close()
	}
}
