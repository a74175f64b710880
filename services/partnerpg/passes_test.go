package partnerpg

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/services/settlepg"
)

// TestPassesUnderConsent: a partner's pass is written only under the
// rider's consent for passes in force, once per idempotency key however
// many binds race, and revoked only by the partner that bound it for the
// rider it was bound to.
func TestPassesUnderConsent(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	settle, err := settlepg.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(settle.Close)
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	s, err := Open(ctx, url, Config{RefKey: bytes.Repeat([]byte("k"), 32), ClaimJTI: settlepg.ClaimAssertion, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	for _, id := range []string{"ve-metro", "xe-om"} {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := s.RegisterPartner(ctx, partner.Partner{ID: id, Name: id, Kind: partner.KindRide, PublicKey: pub,
			Scopes: []partner.Scope{partner.ScopePasses, partner.ScopeTickets}, RatePerMin: 60}); err != nil {
			t.Fatal(err)
		}
	}
	const hoa, lan = "vn_subject_hoa", "vn_subject_lan"
	for _, sub := range []string{hoa, lan} {
		if _, err := settle.OpenRiderAccount(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := s.GrantConsent(ctx, "ve-metro", hoa, []partner.Scope{partner.ScopePasses}, now.Add(time.Hour))
	tickets, _ := s.GrantConsent(ctx, "ve-metro", lan, []partner.Scope{partner.ScopeTickets}, now.Add(time.Hour))
	fares, _ := fare.Shipped()
	day, err := fares.NewPass("hn2a-day", "", now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	bind := func(partnerID, ref, key, ext string) (settlepg.PartnerPass, bool, error) {
		var out settlepg.PartnerPass
		var created bool
		_, err := s.WithConsent(ctx, partnerID, ref, partner.ScopePasses, func(tx pgx.Tx, c partner.Consent) error {
			var err error
			out, created, err = settlepg.GrantPass(ctx, tx, settlepg.PassGrant{Partner: partnerID, Subject: c.Subject,
				ExternalID: ext, IdempotencyKey: key, Pass: day}, now)
			return err
		})
		return out, created, err
	}

	// No consent for passes, another partner's handle, a made-up one.
	for name, k := range map[string][2]string{
		"tickets only":    {"ve-metro", tickets.RiderRef},
		"another partner": {"xe-om", c.RiderRef},
		"made-up handle":  {"ve-metro", "r_madeup"},
	} {
		if _, _, err := bind(k[0], k[1], "k-"+name, "x-"+name); !errors.Is(err, partner.ErrNoConsent) {
			t.Errorf("%s: %v, want no consent", name, err)
		}
	}

	// Eight binds at once under one key: one pass.
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	created := make([]bool, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, made, err := bind("ve-metro", c.RiderRef, "k1", "SALE-1")
			ids[i], created[i], errs[i] = p.ID, made, err
		}()
	}
	wg.Wait()
	n := 0
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] || ids[0] == 0 {
			t.Fatalf("bind %d: %d %v (first %d)", i, ids[i], errs[i], ids[0])
		}
		if created[i] {
			n++
		}
	}
	var rows int
	settle.Pool().QueryRow(ctx, `SELECT count(*) FROM passes WHERE partner_id = 've-metro'`).Scan(&rows)
	if n != 1 || rows != 1 {
		t.Errorf("%d created, %d rows; want 1, 1", n, rows)
	}

	// Revoked only by its partner, for its rider.
	revoke := func(partnerID, ref string, id int64) (settlepg.PartnerPass, error) {
		var out settlepg.PartnerPass
		_, err := s.WithRider(ctx, partnerID, ref, func(tx pgx.Tx, c partner.Consent) error {
			var err error
			out, err = settlepg.RevokePass(ctx, tx, partnerID, c.Subject, id, clock)
			return err
		})
		return out, err
	}
	xo, _ := s.GrantConsent(ctx, "xe-om", hoa, []partner.Scope{partner.ScopePasses}, now.Add(time.Hour))
	if _, err := revoke("xe-om", xo.RiderRef, ids[0]); !errors.Is(err, settlepg.ErrPassNotFound) {
		t.Errorf("another partner revokes: %v", err)
	}
	if _, err := revoke("ve-metro", tickets.RiderRef, ids[0]); !errors.Is(err, settlepg.ErrPassNotFound) {
		t.Errorf("revoked as another rider's: %v", err)
	}
	if _, err := revoke("ve-metro", "r_madeup", ids[0]); !errors.Is(err, partner.ErrNotFound) {
		t.Errorf("a made-up handle: %v", err)
	}
	p, err := revoke("ve-metro", c.RiderRef, ids[0])
	if err != nil || !p.RevokedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("revoke: %+v %v", p, err)
	}
	if day.ValidUntil.After(now) && !p.Covers("hn2a", now.Add(-time.Second)) {
		t.Errorf("a journey entered before the revocation is no longer covered")
	}
	if p.Covers("hn2a", now) {
		t.Errorf("covers a journey entering at the revocation")
	}
	ps, err := settle.PartnerPasses(ctx, "ve-metro", hoa)
	if err != nil || len(ps) != 1 || ps[0].RevokedAt.IsZero() || ps[0].Pass.Amount.IntPart() != 30000 {
		t.Errorf("listed: %+v %v", ps, err)
	}
	if ps, _ := settle.PartnerPasses(ctx, "xe-om", hoa); len(ps) != 0 {
		t.Errorf("another partner lists %d passes", len(ps))
	}
}
