package settlepg

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/internal/testenv"
)

// An assertion id is claimed once: again by the same event (a redelivery
// in a new transaction) it is still that event's; by another it is a replay.
func TestClaimAssertion(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testenv.PostgresURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const ev1, ev2 = "019ab5c3-0f2e-7a10-8b2c-3d4e5f607182", "019ab5c3-0f2e-7a10-8b2c-3d4e5f607183"
	claim := func(ev string) bool {
		var ok bool
		err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
			var err error
			ok, err = ClaimAssertion(ctx, tx, "jti-1", ev, time.Now().Add(time.Minute))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// The same event claims twice (a redelivered tap): both succeed.
	first, again := claim(ev1), claim(ev1)
	if !first || !again {
		t.Error("the first event's claim was refused")
	}
	if claim(ev2) {
		t.Error("a second event claimed a used assertion id")
	}
}
