package partnerpg

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/vnpass/vnpass/internal/pgmigrate"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/partner"
)

func noClaimJTI(context.Context, pgx.Tx, string, string, time.Time) (bool, error) { return true, nil }

// TestKeysMigratedFromPartners: a partner registered before 005 (one
// public key in partners.public_key) has that key as its active "k0"
// afterwards; key rows can only be retired, never changed back or deleted.
func TestKeysMigratedFromPartners(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pgmigrate.Apply(ctx, pool, pgmigrate.Set{FS: migrations, Glob: "migrations/00[1-4]_*.sql",
		Table: "partner_schema_migrations", LockID: 0x766e70617274, Name: "partnerpg"}); err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	created := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `INSERT INTO partners (id, name, kind, public_key, scopes, webhook_url, webhook_secret, rate_per_min, created_at)
		VALUES ('old-app', 'Old app', 'ride', $1, '{tickets}', '', '\x00', 60, $2)`, []byte(pub), created); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, url, Config{RefKey: bytes.Repeat([]byte("k"), 32), ClaimJTI: noClaimJTI})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.Partner(ctx, "old-app")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Keys) != 1 || p.Keys[0].KID != partner.FirstKID || !p.Keys[0].PublicKey.Equal(pub) || !p.Keys[0].CreatedAt.Equal(created) || !p.Keys[0].Active() {
		t.Fatalf("keys after the migration: %+v", p.Keys)
	}
	if k, ok := partner.VerifyingKey(p.Keys, ""); !ok || !k.Equal(pub) {
		t.Error("the migrated partner's tokens without kid are refused")
	}

	// Retire-only: a second key, retire k0, then try to undo or delete.
	pub1, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := s.AddPartnerKey(ctx, partner.Key{Partner: "old-app", KID: "k1", PublicKey: pub1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RetirePartnerKey(ctx, "old-app", "k0"); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`UPDATE partner_keys SET retired_at = NULL WHERE kid = 'k0'`,
		`UPDATE partner_keys SET public_key = decode(repeat('ab', 32), 'hex') WHERE kid = 'k1'`,
		`UPDATE partner_keys SET retired_at = now() + interval '1 day' WHERE kid = 'k0'`,
		`DELETE FROM partner_keys WHERE kid = 'k0'`,
		`TRUNCATE partner_keys`,
	} {
		if _, err := pool.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "only retiring an active key") {
			t.Errorf("%s: %v, want refused by the trigger", sql, err)
		}
	}
}

// TestActiveKeysBoundedUnderRace: concurrent additions never leave a
// partner with more than MaxActiveKeys active keys, and concurrent
// retirements never leave it with none.
func TestActiveKeysBoundedUnderRace(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testenv.PostgresURL(t), Config{RefKey: bytes.Repeat([]byte("k"), 32), ClaimJTI: noClaimJTI})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := s.RegisterPartner(ctx, partner.Partner{ID: "race-app", Name: "Race", Kind: partner.KindRide, PublicKey: pub,
		Scopes: []partner.Scope{partner.ScopeTickets}, RatePerMin: 60}); err != nil {
		t.Fatal(err)
	}
	kids := []string{"a", "b", "c", "d", "e", "f"}
	var wg sync.WaitGroup
	errs := make([]error, len(kids))
	for i, kid := range kids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, _, _ := ed25519.GenerateKey(rand.Reader)
			_, errs[i] = s.AddPartnerKey(ctx, partner.Key{Partner: "race-app", KID: kid, PublicKey: p})
		}()
	}
	wg.Wait()
	added := 0
	for _, err := range errs {
		switch {
		case err == nil:
			added++
		case !errors.Is(err, partner.ErrTooManyKeys):
			t.Errorf("add: %v", err)
		}
	}
	p, _ := s.Partner(ctx, "race-app")
	if added != partner.MaxActiveKeys-1 || len(p.Keys) != partner.MaxActiveKeys {
		t.Fatalf("added %d, %d active keys, want %d active", added, len(p.Keys), partner.MaxActiveKeys)
	}
	for i, k := range p.Keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.RetirePartnerKey(ctx, "race-app", k.KID)
		}()
	}
	wg.Wait()
	last := 0
	for _, err := range errs[:len(p.Keys)] {
		if errors.Is(err, partner.ErrLastKey) {
			last++
		} else if err != nil {
			t.Errorf("retire: %v", err)
		}
	}
	p, _ = s.Partner(ctx, "race-app")
	if last != 1 || len(p.Keys) != 1 {
		t.Errorf("%d refused as the last key, %d active left; want 1 and 1", last, len(p.Keys))
	}
	if _, err := s.AddPartnerKey(ctx, partner.Key{Partner: "no-such", KID: "x", PublicKey: pub}); !errors.Is(err, partner.ErrNotFound) {
		t.Errorf("key of an unknown partner: %v", err)
	}
	if _, err := s.RetirePartnerKey(ctx, "race-app", "zz"); !errors.Is(err, partner.ErrNotFound) {
		t.Errorf("retire an unknown kid: %v", err)
	}
}
