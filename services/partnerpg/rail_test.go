package partnerpg

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/rail"
	"github.com/vnpass/vnpass/services/settlepg"
)

// fakeVerifier reads "b64(subject).b64(jti).sig" as a verified assertion.
type fakeVerifier struct{}

func (fakeVerifier) Verify(_ context.Context, token, device string) (identity.Assertion, error) {
	parts := strings.Split(token, ".")
	sub, _ := base64.RawURLEncoding.DecodeString(parts[0])
	jti, _ := base64.RawURLEncoding.DecodeString(parts[1])
	return identity.Assertion{Subject: string(sub), JTI: string(jti), Audience: device, ExpiresAt: time.Now().Add(time.Minute)}, nil
}

func assertion(subject, jti string) string {
	e := base64.RawURLEncoding.EncodeToString
	return e([]byte(subject)) + "." + e([]byte(jti)) + ".c2ln"
}

type railFixture struct {
	t      *testing.T
	store  *Store
	gates  *rail.Gates
	topics proto.Topics
}

func newRail(t *testing.T) *railFixture {
	t.Helper()
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	// The metro's store owns assertion_uses; rail taps claim there too.
	st, err := settlepg.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	s, err := Open(ctx, url, Config{RefKey: bytes.Repeat([]byte("k"), 32), ClaimJTI: settlepg.ClaimAssertion})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	net, err := rail.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	f := &railFixture{t: t, store: s, topics: proto.Topics{Root: "vnpass/t/rail/v1"}}
	f.gates, err = rail.NewGates(rail.GateConfig{Network: net, Verifier: fakeVerifier{}, Store: s, Topics: f.topics})
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := s.RegisterPartner(ctx, partner.Partner{ID: "ve-tau", Name: "Vé tàu", Kind: partner.KindTicketing, PublicKey: pub,
		Scopes: []partner.Scope{partner.ScopeTickets}, RatePerMin: 60, WebhookURL: "http://127.0.0.1:1/hook"}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *railFixture) bind(subject, ref string, dep time.Time) {
	f.t.Helper()
	ctx := context.Background()
	c, err := f.store.GrantConsent(ctx, "ve-tau", subject, []partner.Scope{partner.ScopeTickets}, time.Now().Add(time.Hour))
	if err != nil {
		f.t.Fatal(err)
	}
	if _, _, err := f.store.BindTicket(ctx, "ve-tau", c.RiderRef, rail.Ticket{Ref: ref, Train: "SE1", Departure: dep, Coach: "1", Seat: "1", Origin: "HNO", Destination: "SGO"}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *railFixture) tap(device, subject, jti string, at time.Time) (string, []byte) {
	f.t.Helper()
	tp := proto.Tap{V: 1, EventID: proto.NewEventID(at), Device: device, Site: "ga-ha-noi", Kind: proto.KindRailGate,
		Assertion: assertion(subject, jti), CapturedAt: proto.At(at)}
	b, err := tp.Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	return tp.EventID, b
}

func (f *railFixture) send(device string, payload []byte) (proto.Decision, bool) {
	f.t.Helper()
	r, err := f.gates.Handle(context.Background(), f.topics.Taps("ga-ha-noi", device), payload)
	if err != nil {
		f.t.Fatal(err)
	}
	d, err := proto.DecodeDecision(r.Payload)
	if err != nil {
		f.t.Fatal(err)
	}
	return d, r.Dup
}

// TestRailTapsOnceEach: a rail tap is recorded once by its event id (a
// redelivery gets the same bytes), a ticket opens one gate once, even
// when several gates see the rider at once; a replayed assertion, a tap
// the gate gave up on and an unknown gate use nothing.
func TestRailTapsOnceEach(t *testing.T) {
	f := newRail(t)
	ctx := context.Background()
	now := time.Now()
	f.bind("vn_a", "T-A", now.Add(20*time.Minute))

	// Too old: the gate stopped waiting; the ticket stays valid.
	_, old := f.tap("ga-ha-noi-g01", "vn_a", "jti-old", now.Add(-5*time.Second))
	if d, _ := f.send("ga-ha-noi-g01", old); d.Open || d.Reason != proto.ReasonTapTooOld {
		t.Fatalf("old tap: %+v", d)
	}
	_, p1 := f.tap("ga-ha-noi-g01", "vn_a", "jti-1", time.Now())
	d1, dup := f.send("ga-ha-noi-g01", p1)
	if !d1.Open || d1.Reason != proto.ReasonOK || dup {
		t.Fatalf("first pass: %+v dup %v", d1, dup)
	}
	r, err := f.gates.Handle(ctx, f.topics.Taps("ga-ha-noi", "ga-ha-noi-g01"), p1)
	if err != nil || !r.Dup {
		t.Fatalf("redelivery: %+v %v", r, err)
	}
	if again, _ := proto.DecodeDecision(r.Payload); again != d1 {
		t.Errorf("redelivery answered %+v, want %+v", again, d1)
	}
	_, p2 := f.tap("ga-ha-noi-g02", "vn_a", "jti-2", time.Now())
	if d, _ := f.send("ga-ha-noi-g02", p2); d.Open || d.Reason != proto.ReasonTicketUsed {
		t.Errorf("second pass: %+v", d)
	}
	_, p3 := f.tap("ga-ha-noi-g02", "vn_a", "jti-1", time.Now()) // the first assertion again
	if d, _ := f.send("ga-ha-noi-g02", p3); d.Open || d.Reason != proto.ReasonAssertionReplayed {
		t.Errorf("replayed assertion: %+v", d)
	}
	_, p4 := f.tap("hn2a-lang-in01", "vn_a", "jti-4", time.Now())
	if r, err := f.gates.Handle(ctx, f.topics.Taps("ga-ha-noi", "hn2a-lang-in01"), p4); err != nil {
		t.Fatal(err)
	} else if d, _ := proto.DecodeDecision(r.Payload); d.Reason != proto.ReasonUnknownSite {
		t.Errorf("unlisted gate: %+v", d)
	}
	_, p5 := f.tap("ga-ha-noi-g03", "vn_nobody", "jti-5", time.Now())
	if d, _ := f.send("ga-ha-noi-g03", p5); d.Reason != proto.ReasonNoTicket {
		t.Errorf("no ticket: %+v", d)
	}

	// Eight gates see one rider at once: one opens.
	f.bind("vn_b", "T-B", now.Add(20*time.Minute))
	var wg sync.WaitGroup
	var mu sync.Mutex
	opened, used := 0, 0
	for i := 1; i <= 8; i++ {
		dev := "ga-ha-noi-g0" + string(rune('0'+i))
		_, p := f.tap(dev, "vn_b", "jti-b"+dev, time.Now())
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.gates.Handle(ctx, f.topics.Taps("ga-ha-noi", dev), p)
			if err != nil {
				t.Error(err)
				return
			}
			d, _ := proto.DecodeDecision(r.Payload)
			mu.Lock()
			defer mu.Unlock()
			switch d.Reason {
			case proto.ReasonOK:
				opened++
			case proto.ReasonTicketUsed:
				used++
			default:
				t.Errorf("%s: %+v", dev, d)
			}
		}()
	}
	wg.Wait()
	if opened != 1 || used != 7 {
		t.Errorf("opened %d, ticket_used %d; want 1 and 7", opened, used)
	}

	// One webhook per used ticket; taps recorded once each.
	var hooks, taps int
	f.store.Pool().QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE event_type = 'rail.ticket.used'`).Scan(&hooks)
	f.store.Pool().QueryRow(ctx, `SELECT count(*) FROM rail_taps`).Scan(&taps)
	if hooks != 2 || taps != 14 {
		t.Errorf("%d webhooks (want 2), %d rail taps (want 14)", hooks, taps)
	}
	// A used ticket can no longer be changed or cancelled.
	if _, err := f.store.CancelTicket(ctx, "ve-tau", "T-A"); err != rail.ErrTicketUsed {
		t.Errorf("cancel a used ticket: %v", err)
	}
}

// TestCancelledOrChangedTickets: the issuer cancels or moves a ticket
// until it is used, and the gate follows.
func TestCancelledOrChangedTickets(t *testing.T) {
	f := newRail(t)
	ctx := context.Background()
	f.bind("vn_c", "T-C", time.Now().Add(3*time.Hour))
	_, p := f.tap("ga-ha-noi-g01", "vn_c", "jti-c1", time.Now())
	if d, _ := f.send("ga-ha-noi-g01", p); d.Reason != proto.ReasonOutsideWindow {
		t.Errorf("three hours early: %+v", d)
	}
	f.bind("vn_c", "T-C", time.Now().Add(10*time.Minute)) // moved to an earlier train
	_, p = f.tap("ga-ha-noi-g01", "vn_c", "jti-c2", time.Now())
	if d, _ := f.send("ga-ha-noi-g01", p); !d.Open {
		t.Errorf("after the change: %+v", d)
	}
	f.bind("vn_c", "T-D", time.Now().Add(10*time.Minute))
	if _, err := f.store.CancelTicket(ctx, "ve-tau", "T-D"); err != nil {
		t.Fatal(err)
	}
	_, p = f.tap("ga-ha-noi-g01", "vn_c", "jti-c3", time.Now())
	if d, _ := f.send("ga-ha-noi-g01", p); d.Reason != proto.ReasonTicketUsed {
		// T-C is used in this window, T-D cancelled: the used one is what the rider needs to hear.
		t.Errorf("cancelled ticket: %+v", d)
	}
}
