package settlepg_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/services/settlepg"
)

// LockRider reads a rider's account for another store's decision, in that
// store's transaction.
func TestLockRider(t *testing.T) {
	f := newFixture(t)
	f.topUp("vn_lock", 20000)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, f.store.Pool(), func(tx pgx.Tx) error {
		a, err := settlepg.LockRider(ctx, tx, "vn_lock")
		if err != nil {
			return err
		}
		if !a.Exists || a.Status != "active" || a.Postpaid || a.Balance.IntPart() != 20000 || !a.DebtSince.IsZero() {
			t.Errorf("account %+v", a)
		}
		none, err := settlepg.LockRider(ctx, tx, "vn_nobody")
		if err != nil || none.Exists {
			t.Errorf("unknown rider: %+v %v", none, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
