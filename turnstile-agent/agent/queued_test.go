package agent_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/queue"
)

// fakeVerifier verifies the fake matcher's assertions: the subject is
// "vn_" + the face ref; faces starting "face-forged" do not verify.
type fakeVerifier struct{ noKeys atomic.Bool }

func (v *fakeVerifier) VerifyAt(_ context.Context, token, device string, at time.Time) (identity.Assertion, error) {
	face := faceOf(token)
	if strings.HasPrefix(face, "face-forged") {
		return identity.Assertion{}, fmt.Errorf("fake: %w", identity.ErrAssertionInvalid)
	}
	return identity.Assertion{Subject: "vn_" + face, JTI: face, Audience: device, IssuedAt: at, ExpiresAt: at.Add(time.Minute), Level: 2}, nil
}

func (v *fakeVerifier) HasKeys() bool { return !v.noKeys.Load() }

// withState gives the agent a state directory and a verifier: a gate that
// can work offline. Its offline policy allows everything but the day's
// limit (two), so that a test need not push a deny list first.
func withState(dir string) rigOption {
	return func(c *agent.Config) {
		c.Dir = dir
		c.Verifier = &fakeVerifier{}
		c.Offline = &proto.OfflinePolicy{MaxEntriesPerDay: 2}
		c.ResendAfter = 600 * time.Millisecond
		c.Heartbeat = time.Hour
	}
}

// link lets a test cut the agent's network under a live session, as a
// failing network would, and bring it back.
type link struct {
	down  atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func cuttable(r *rig) *link {
	l := &link{}
	agent.SetOpenConn(r.agent, func(uri *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
		if l.down.Load() {
			return nil, errors.New("test: network down")
		}
		c, err := net.Dial("tcp", uri.Host)
		if err == nil {
			l.mu.Lock()
			l.conns = append(l.conns, c)
			l.mu.Unlock()
		}
		return c, err
	})
	return l
}

func (l *link) cut() {
	l.down.Store(true)
	l.mu.Lock()
	defer l.mu.Unlock()
	// A half-close, as a dying network looks to paho: the broker answers
	// the EOF by closing. A local Close would look deliberate to paho.
	for _, c := range l.conns {
		c.(*net.TCPConn).CloseWrite()
	}
	l.conns = nil
}

func (l *link) restore() { l.down.Store(false) }

// service records every tap it sees, in order, and answers each with an
// open decision unless silent is set.
type service struct {
	mu     sync.Mutex
	taps   []proto.Tap
	silent atomic.Bool
}

func (s *service) seen() []proto.Tap {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.taps)
}

func (r *rig) serve(t testing.TB) *service {
	s := &service{}
	r.respond(t, func(tp proto.Tap) [][]byte {
		s.mu.Lock()
		s.taps = append(s.taps, tp)
		s.mu.Unlock()
		if s.silent.Load() {
			return nil
		}
		return [][]byte{decision(t, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display())}
	})
	return s
}

// observe records the taps of the rig's device in the order the broker
// delivers them (the service's own handlers run concurrently).
func (r *rig) observe(t testing.TB) func() []proto.Tap {
	opts := mqtt.NewClientOptions().AddBroker(r.mq.URL).SetClientID(testenv.Name("obs-")).SetCleanSession(true).
		SetUsername(r.mq.ServiceUser).SetPassword(r.mq.ServicePassword).SetOrderMatters(true)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("observer connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	var mu sync.Mutex
	var taps []proto.Tap
	subscribe(t, c, r.mq.Topics.Taps(testSite, r.device), func(_ mqtt.Client, m mqtt.Message) {
		if tp, err := proto.DecodeTap(m.Payload()); err == nil {
			mu.Lock()
			taps = append(taps, tp)
			mu.Unlock()
		}
	})
	return func() []proto.Tap {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(taps)
	}
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Online, a queued tap goes out at once and its decision empties the queue.
func TestQueuedTapOnline(t *testing.T) {
	r := newRig(t, withState(t.TempDir()))
	r.connect(t)
	svc := r.serve(t)
	res := tap(t, r.agent, "face-0001", "")
	if !res.Decision.Open || res.Local || res.Offline || res.TimedOut {
		t.Fatalf("result %+v", res)
	}
	waitFor(t, 5*time.Second, "the queue to empty", func() bool { return r.agent.Stats().QueueDepth == 0 })
	if got := svc.seen(); len(got) != 1 || got[0].EventID != res.EventID || got[0].Offline != nil {
		t.Errorf("service saw %+v", got)
	}
}

// The broker unreachable: riders keep passing on offline decisions made at
// once; when the link is back, the queue drains in order, each tap with its
// decision, and every decision acknowledges its tap.
func TestBrokerUnreachableRidersKeepPassing(t *testing.T) {
	r := newRig(t, withState(t.TempDir()), withTimeout(time.Second))
	l := cuttable(r)
	r.connect(t)
	r.serve(t)
	seen := r.observe(t)
	if res := tap(t, r.agent, "face-0000", ""); res.Local {
		t.Fatalf("online tap decided locally: %+v", res)
	}
	l.cut()
	waitFor(t, 5*time.Second, "the agent to see the link down", func() bool {
		return !r.agent.Connected()
	})
	var ids []string
	for i := 1; i <= 20; i++ {
		start := time.Now()
		res := tap(t, r.agent, fmt.Sprintf("face-%04d", i), "")
		if took := time.Since(start); !res.Offline || !res.Decision.Open || took > 200*time.Millisecond {
			t.Fatalf("tap %d while the broker is unreachable: %+v after %v; want opened offline at once", i, res, took)
		}
		ids = append(ids, res.EventID)
	}
	if st := r.gate.State(); st.Opened != 21 || st.Last != agent.DisplayOfflineOpen {
		t.Errorf("gate %+v", st)
	}
	if d := r.agent.Stats().QueueDepth; d != 20 {
		t.Errorf("queue depth %d while offline, want 20", d)
	}

	l.restore()
	waitFor(t, 15*time.Second, "the queue to drain", func() bool { return r.agent.Stats().QueueDepth == 0 })
	var drained []string
	for _, tp := range seen()[1:] {
		if tp.Offline == nil || !tp.Offline.Open || tp.Offline.Rule != "verified" {
			t.Errorf("tap %s reached the service without its offline decision: %+v", tp.EventID, tp.Offline)
		}
		if !slices.Contains(drained, tp.EventID) {
			drained = append(drained, tp.EventID)
		}
	}
	if !slices.Equal(drained, ids) {
		t.Errorf("drained %v,\nwant in order %v", drained, ids)
	}
	s := r.agent.Stats()
	if s.OfflineOpened != 20 || s.Settled != 20 || s.Timeouts != 0 {
		t.Errorf("stats %+v", s)
	}
	// Back online: taps wait for the cloud again.
	if res := tap(t, r.agent, "face-0100", ""); res.Local {
		t.Errorf("tap after the drain decided locally: %+v", res)
	}
}

// The cloud stops answering with the link up: the first rider waits the
// decision timeout, then is decided offline on a new tap (a new match, a
// new event id); the next riders are decided offline at once. The given-up
// tap still reaches the cloud, and is answered; when the cloud answers
// again, everything queued is acknowledged and taps go online again.
func TestCloudSilentDecidesOffline(t *testing.T) {
	const timeout = 400 * time.Millisecond
	r := newRig(t, withState(t.TempDir()), withTimeout(timeout))
	r.connect(t)
	svc := r.serve(t)
	svc.silent.Store(true)

	start := time.Now()
	first := tap(t, r.agent, "face-0001", "")
	if took := time.Since(start); !first.Offline || !first.TimedOut || !first.Decision.Open || took < timeout {
		t.Fatalf("first tap: %+v after %v", first, took)
	}
	start = time.Now()
	second := tap(t, r.agent, "face-0002", "")
	if took := time.Since(start); !second.Offline || second.TimedOut || took > timeout/2 {
		t.Fatalf("second tap: %+v after %v; want offline at once", second, took)
	}
	r.matcher.mu.Lock()
	matches := len(r.matcher.devices)
	r.matcher.mu.Unlock()
	if matches != 3 {
		t.Errorf("%d matches, want 3 (the timed-out tap is matched again)", matches)
	}
	waitFor(t, 5*time.Second, "the service to see the taps", func() bool { return len(svc.seen()) >= 3 })
	seen := svc.seen()
	if seen[0].Offline != nil || seen[0].EventID == first.EventID || seen[1].EventID != first.EventID || seen[1].Offline == nil {
		t.Errorf("taps seen %+v; want the online one, then the offline one under a new id", seen)
	}

	svc.silent.Store(false) // the cloud is back: resent taps are answered
	waitFor(t, 10*time.Second, "the queue to drain", func() bool { return r.agent.Stats().QueueDepth == 0 })
	if s := r.agent.Stats(); s.Resends == 0 || s.Timeouts != 1 {
		t.Errorf("stats %+v; want resends and one timeout", s)
	}
	if res := tap(t, r.agent, "face-0003", ""); res.Local {
		t.Errorf("tap once the cloud answers: %+v", res)
	}
}

// Taps queued offline by one run are sent by the next, under the same event
// ids: a restart loses nothing and sends nothing as a new tap.
func TestRestartSendsWhatWasQueued(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, withState(dir))
	var ids []string
	for i := range 5 {
		res := tap(t, r.agent, fmt.Sprintf("face-%04d", i), "") // never connected: offline
		if !res.Offline || !res.Decision.Open {
			t.Fatalf("tap %d: %+v", i, res)
		}
		ids = append(ids, res.EventID)
	}
	r.agent.Close()

	again, err := agent.New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(again.Close)
	if d := again.Stats().QueueDepth; d != 5 {
		t.Fatalf("queue depth after restart %d, want 5", d)
	}
	r.serve(t)
	seen := r.observe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := again.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the queue to drain", func() bool { return again.Stats().QueueDepth == 0 })
	var got []string
	for _, tp := range seen() {
		if !slices.Contains(got, tp.EventID) {
			got = append(got, tp.EventID)
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("sent %v, want %v", got, ids)
	}
}

// A queue entry that is not a tap of this gate is reported and skipped; the
// agent carries on.
func TestCorruptQueueEntrySkipped(t *testing.T) {
	dir := t.TempDir()
	q, err := queue.Open(filepath.Join(dir, "queue"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for id, payload := range map[string]string{
		"not-json":                             "\x00\x01garbage",
		"01a20ced-7d28-71b9-b1e9-3c59f6b8d8c3": `{"v":1,"event_id":"01a20ced-7d28-71b9-b1e9-3c59f6b8d8c3"}`,
	} {
		if err := q.Append(id, []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	// Torn and garbled lines in the entries log, as a power cut leaves them.
	if err := os.WriteFile(filepath.Join(dir, "entries.log"), []byte("{\"s\":\"vn_x\",\"at\":\"2026-\n\x00\x00\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, withState(dir))
	if s := r.agent.Stats(); s.CorruptQueued != 2 || s.QueueDepth != 0 {
		t.Fatalf("stats %+v; want both entries reported and skipped", s)
	}
	r.connect(t)
	r.serve(t)
	if res := tap(t, r.agent, "face-0001", ""); !res.Decision.Open || res.Local {
		t.Errorf("tap after skipping: %+v", res)
	}
}

// The status says what the fleet view needs: the config and deny list
// applied (published as soon as applied: the push's acknowledgement), the
// queue depth, the clock offset and the offline counts.
func TestStatusAcknowledgesConfig(t *testing.T) {
	r := newRig(t, withState(t.TempDir()))
	r.connect(t)
	r.serve(t)
	tap(t, r.agent, "face-0001", "") // measures the clock offset
	statusTopic := r.mq.Topics.Status(testSite, r.device)
	got := make(chan proto.Status, 16)
	subscribe(t, r.svc, statusTopic, func(_ mqtt.Client, m mqtt.Message) {
		if st, err := proto.DecodeStatus(m.Payload()); err == nil {
			got <- st
		}
	})
	b, err := proto.Config{Version: 9, Device: r.device, Site: testSite, Kind: proto.KindMetroEntry, DecisionTimeoutMS: 1500,
		IssuedAt: proto.At(time.Now()), Offline: &proto.OfflinePolicy{MaxEntriesPerDay: 1, DenyListMaxAgeH: 24},
		DenyList:   &proto.DenyList{Version: 4, IssuedAt: proto.At(time.Now()), Subjects: []string{"vn_face-0666"}},
		HeartbeatS: 5}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	publish(t, r.svc, r.mq.Topics.Config(testSite, r.device), true, b)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case st := <-got:
			if st.ConfigVersion != 9 {
				continue
			}
			if st.DenyListVersion != 4 || st.HeartbeatS != 5 || st.ClockOffsetMS == nil || st.State != proto.StateOnline {
				t.Errorf("status %+v", st)
			}
			return
		case <-deadline:
			t.Fatal("no status acknowledging config 9")
		}
	}
}

// The cloud answers every tap but one (it gave that one up: a tap its
// database refused for a while). The gate keeps tapping and getting
// answers (ResendAfter is a minute: the drain never stalls for want of
// any); the lone unanswered tap is sent again after LoneResendAfter all the
// same, answered, and leaves the queue.
func TestLoneUnansweredTapIsSentAgain(t *testing.T) {
	const resend = 1500 * time.Millisecond
	r := newRig(t, withState(t.TempDir()), withTimeout(300*time.Millisecond),
		func(c *agent.Config) { c.ResendAfter, c.LoneResendAfter = time.Minute, resend })
	r.connect(t)
	var mu sync.Mutex
	copies := map[string]int{}
	var skipped string
	r.respond(t, func(tp proto.Tap) [][]byte {
		mu.Lock()
		defer mu.Unlock()
		copies[tp.EventID]++
		if skipped == "" && len(copies) == 2 {
			skipped = tp.EventID // the second tap seen, once
			return nil
		}
		if tp.EventID == skipped && copies[tp.EventID] == 1 {
			return nil
		}
		return [][]byte{decision(t, tp.EventID, proto.ReasonOK, proto.ReasonOK.Display())}
	})
	// Riders keep coming every 150 ms for LoneResendAfter and more.
	deadline := time.Now().Add(resend + 2*time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		tap(t, r.agent, fmt.Sprintf("face-%04d", i), "")
		time.Sleep(150 * time.Millisecond)
	}
	waitFor(t, 5*time.Second, "the queue to drain", func() bool { return r.agent.Stats().QueueDepth == 0 })
	mu.Lock()
	defer mu.Unlock()
	if skipped == "" || copies[skipped] < 2 {
		t.Errorf("the unanswered tap %s was sent %d times, want it sent again", skipped, copies[skipped])
	}
}

// Riders one right after another, the cloud answering each at once: every
// tap is decided online. The decision used to reach the waiting tap before
// its record left the set of undecided taps, so the next tap, made at that
// moment, saw a backlog and went offline.
func TestBackToBackTapsStayOnline(t *testing.T) {
	r := newRig(t, withState(t.TempDir()))
	r.connect(t)
	r.serve(t)
	// onDecision slow to finish after handing over the decision, as a
	// loaded machine can make it: the next tap must not care.
	agent.SlowAfterDelivery(t, 20*time.Millisecond)
	for i := range 50 {
		res := tap(t, r.agent, fmt.Sprintf("face-%04d", i), "")
		if res.Offline || res.Local || !res.Decision.Open {
			t.Fatalf("tap %d: %+v; want decided online", i, res)
		}
		// The moment a tap has its decision, it is no backlog.
		if agent.Undecided(r.agent, res.EventID) {
			t.Fatalf("tap %d returned with its decision but still counted undecided", i)
		}
	}
}
