package disputepg_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/dispute"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/services/disputepg"
)

func open(t *testing.T) (*disputepg.Store, *pgxpool.Pool, string) {
	t.Helper()
	url := testenv.PostgresURL(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := disputepg.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, pool, url
}

// TestDisputeStore: filed, one open per charge, listed by rider and status,
// resolved under a lock with every change recorded, and the record of
// changes append-only. Migrations apply once, in their own table.
func TestDisputeStore(t *testing.T) {
	s, pool, url := open(t)
	ctx := context.Background()
	again, err := disputepg.Open(ctx, url)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	again.Close()
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM dispute_migrations").Scan(&n); err != nil || n != 2 {
		t.Errorf("dispute_migrations: %d rows, %v", n, err)
	}
	at := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	file := func(sub string, charge int64) (dispute.Dispute, error) {
		d, err := dispute.New(sub, dispute.KindJourney, charge, decimal.NewFromInt(15000), "I tapped out at Hà Đông", at)
		if err != nil {
			t.Fatal(err)
		}
		return s.File(ctx, d)
	}
	a, err := file("vn_a", 10)
	if err != nil || a.ID == 0 {
		t.Fatalf("file: %+v %v", a, err)
	}
	if _, err := file("vn_a", 10); !errors.Is(err, dispute.ErrAlreadyOpen) {
		t.Errorf("second open dispute of a charge: %v", err)
	}
	b, _ := file("vn_b", 11)
	c, _ := file("vn_a", 12)

	got, err := s.Get(ctx, a.ID)
	if err != nil || got.Reason != "I tapped out at Hà Đông" || !got.Charged.Equal(decimal.NewFromInt(15000)) ||
		len(got.Events) != 1 || got.Events[0].By != "rider:vn_a" || !got.CreatedAt.Equal(at) {
		t.Errorf("get: %+v %v", got, err)
	}
	if _, err := s.Get(ctx, 999); !errors.Is(err, dispute.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}

	later := at.Add(time.Hour)
	r, err := s.Update(ctx, a.ID, func(d *dispute.Dispute) error {
		return d.Refunded(decimal.NewFromInt(13000), 42, "CCTV shows the exit", "operator:lan", later)
	})
	if err != nil || r.Status != dispute.StatusRefunded {
		t.Fatalf("refund: %+v %v", r, err)
	}
	if _, err := s.Update(ctx, a.ID, func(d *dispute.Dispute) error { return d.Rejected("no", "operator:x", later) }); !errors.Is(err, dispute.ErrResolved) {
		t.Errorf("resolved twice: %v", err)
	}
	if _, err := s.Update(ctx, b.ID, func(d *dispute.Dispute) error {
		return d.Rejected("The gate log shows no exit", "operator:minh", later)
	}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, a.ID)
	if got.RefundTxID != 42 || !got.Refund.Equal(decimal.NewFromInt(13000)) || got.ResolvedBy != "operator:lan" ||
		!got.ResolvedAt.Equal(later) || len(got.Events) != 2 || got.Events[1].Status != dispute.StatusRefunded {
		t.Errorf("after refund: %+v", got)
	}
	// A charge whose dispute was settled may be disputed again.
	if _, err := file("vn_a", 10); err != nil {
		t.Errorf("new dispute of a settled charge: %v", err)
	}

	mine, _ := s.List(ctx, disputepg.Filter{Subject: "vn_a"})
	if len(mine) != 3 || mine[0].ID < mine[1].ID {
		t.Errorf("rider's list: %d", len(mine))
	}
	for _, d := range mine {
		if d.Subject != "vn_a" {
			t.Errorf("another rider's dispute listed: %+v", d)
		}
	}
	openOnes, _ := s.List(ctx, disputepg.Filter{Status: dispute.StatusOpen})
	if len(openOnes) != 2 || openOnes[1].ID != c.ID {
		t.Errorf("open queue: %+v", openOnes)
	}
	rejected, _ := s.List(ctx, disputepg.Filter{Status: dispute.StatusRejected})
	if len(rejected) != 1 || rejected[0].ID != b.ID || rejected[0].Events[1].Note != "The gate log shows no exit" {
		t.Errorf("rejected: %+v", rejected)
	}
	paged, _ := s.List(ctx, disputepg.Filter{Limit: 2})
	rest, _ := s.List(ctx, disputepg.Filter{Limit: 2, Before: paged[1].ID})
	if len(paged) != 2 || len(rest) != 2 {
		t.Errorf("pages: %d, %d", len(paged), len(rest))
	}
	if _, err := pool.Exec(ctx, "UPDATE dispute_events SET note = 'x'"); err == nil {
		t.Error("the record of changes was edited")
	}
}
