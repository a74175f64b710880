package partnerhttp

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vnpass/vnpass/partner"
)

// TestWebhooksRetriedSignedOnce: a webhook the partner fails to take is
// sent again with backoff under the same id and signature scheme until it
// is taken; the delivery state is in the database; one that never gets
// through is marked failed after MaxAttempts.
func TestWebhooksRetriedSignedOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var mu sync.Mutex
	var ids []string
	fails := 2
	var secret []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := Verify(secret, r.Header, body, time.Now(), time.Minute); err != nil {
			t.Errorf("bad signature: %v", err)
		}
		ids = append(ids, r.Header.Get("webhook-id"))
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	p, err := f.store.RegisterPartner(ctx, partner.Partner{ID: "hook", Name: "hook", Kind: partner.KindRide, PublicKey: pub,
		Scopes: []partner.Scope{partner.ScopeTickets}, RatePerMin: 60, WebhookURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	secret = p.WebhookSecret
	mu.Unlock()
	insert := func(id, key string) {
		if _, err := f.store.Pool().Exec(ctx, `INSERT INTO webhook_deliveries (id, partner_id, event_type, event_key, payload, next_attempt_at, created_at)
			VALUES ($1, 'hook', 'test', $2, '{"id":"x"}', now() - interval '1 second', now())`, id, key); err != nil {
			t.Fatal(err)
		}
	}
	insert("019ab5c3-0f2e-7a10-8b2c-000000000001", "k1")

	d := &Dispatcher{Store: f.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), BaseBackoff: 20 * time.Millisecond, MaxAttempts: 5, Client: &http.Client{Timeout: 2 * time.Second}}
	f.clock.mu.Lock()
	f.clock.t = time.Now().Add(time.Hour) // the store's clock: every retry is due
	f.clock.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := d.Once(ctx); err != nil {
			t.Fatal(err)
		}
		dl, err := f.store.Delivery(ctx, "019ab5c3-0f2e-7a10-8b2c-000000000001")
		if err != nil {
			t.Fatal(err)
		}
		if dl.State == "delivered" {
			if dl.Attempts != 3 {
				t.Errorf("delivered after %d attempts, want 3", dl.Attempts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %+v", dl)
		}
		f.clock.add(2 * time.Hour)
	}
	mu.Lock()
	if len(ids) != 3 || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("webhook ids %v: want the same id three times", ids)
	}
	mu.Unlock()
	// Nothing more is sent once delivered.
	if n, _ := d.Once(ctx); n != 0 {
		t.Errorf("sent %d more", n)
	}

	// A partner that never takes it: failed after MaxAttempts.
	mu.Lock()
	fails = 1000
	mu.Unlock()
	insert("019ab5c3-0f2e-7a10-8b2c-000000000002", "k2")
	for i := 0; i < 10; i++ {
		d.Once(ctx)
		f.clock.add(2 * time.Hour)
	}
	dl, _ := f.store.Delivery(ctx, "019ab5c3-0f2e-7a10-8b2c-000000000002")
	if dl.State != "failed" || dl.Attempts != 5 {
		t.Errorf("never taken: state %s after %d attempts, want failed after 5", dl.State, dl.Attempts)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	d := &Dispatcher{BaseBackoff: time.Second, MaxBackoff: time.Minute}
	d.defaults()
	prev := time.Duration(0)
	for n := 1; n <= 6; n++ {
		b := d.backoff(n)
		if b <= prev/2 || b > time.Minute {
			t.Errorf("attempt %d: %s after %s", n, b, prev)
		}
		prev = b
	}
	if b := d.backoff(40); b > time.Minute || b < 48*time.Second {
		t.Errorf("attempt 40: %s, want about a minute", b)
	}
}
