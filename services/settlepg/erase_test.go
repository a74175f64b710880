package settlepg_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/settlepg"
)

// TestErasureKeepsTheBooks: erasure is refused while money is owed either
// way; then the subject is replaced by the tombstone in the ledger and the
// audit log, amounts untouched, books balanced. The relaxation of the
// append-only triggers that erasure uses lets through only that change:
// with the erasure setting on, an amount, a memo, another account, an
// audit reason still cannot be edited, and nothing can be deleted.
func TestErasureKeepsTheBooks(t *testing.T) {
	ctx := context.Background()
	s, err := settlepg.Open(ctx, testenv.PostgresURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	const sub = "vn_erase_me_0123456789"
	if _, err := s.OpenRiderAccount(ctx, sub); err != nil {
		t.Fatal(err)
	}
	top, _ := ledger.Transfer("topup:"+sub+":k1", "topup", "top-up via sim", ledger.ProviderSettlement("sim"), ledger.Rider(sub), money.Dong(50000))
	if err := s.Post(ctx, top); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, settlepg.AuditEntry{Actor: "ops", Role: "admin", Action: "account.read", Rider: sub, Reason: "ticket 9"}); err != nil {
		t.Fatal(err)
	}
	entry := settlepg.AuditEntry{Actor: "ops", Role: "admin", Action: "account.erase", Resource: "/v1/accounts/x/erasure", Reason: "request 77"}
	var blocked *settlepg.ErasureBlocked
	if _, err := s.Erase(ctx, sub, settlepg.NewTombstone(), entry, nil); !errors.As(err, &blocked) || blocked.Reasons[0] != "balance" {
		t.Fatalf("erasure with 50.000 ₫ on the account: %v", err)
	}
	out, _ := ledger.Transfer("payout:"+sub+":1", "payout", "paid out", ledger.Rider(sub), ledger.ProviderSettlement("sim"), money.Dong(50000))
	if err := s.Post(ctx, out); err != nil {
		t.Fatal(err)
	}
	// An analytics failure leaves everything as it was.
	if _, err := s.Erase(ctx, sub, settlepg.NewTombstone(), entry, func(context.Context) error { return errors.New("clickhouse down") }); err == nil ||
		!strings.Contains(err.Error(), "clickhouse down") {
		t.Fatalf("erasure whose analytics part failed: %v", err)
	}
	if _, err := s.Account(ctx, ledger.Rider(sub)); err != nil {
		t.Fatalf("the account after a failed erasure: %v", err)
	}
	tomb := settlepg.NewTombstone()
	res, err := s.Erase(ctx, sub, tomb, entry, nil)
	if err != nil || res.Tombstone != tomb || res.Rows < 6 {
		t.Fatalf("erase: %+v %v", res, err)
	}
	pool := s.Pool()
	var left int
	pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger_entries WHERE account_id LIKE '%' || $1 || '%')
		+ (SELECT count(*) FROM ledger_transactions WHERE idempotency_key LIKE '%' || $1 || '%')
		+ (SELECT count(*) FROM accounts WHERE subject = $1) + (SELECT count(*) FROM audit_log WHERE rider = $1)`, sub).Scan(&left)
	if left != 0 {
		t.Errorf("%d rows still name the subject", left)
	}
	es, err := s.AuditLog(ctx, settlepg.AuditFilter{Rider: tomb})
	if err != nil || len(es) != 2 || es[0].Action != "account.erase" || es[1].Reason != "ticket 9" {
		t.Errorf("audit under the tombstone: %+v %v", es, err)
	}
	b, err := s.Books(ctx)
	if err != nil || !b.Balanced() {
		t.Errorf("books: %+v %v", b, err)
	}
	a, err := s.Account(ctx, ledger.Rider(tomb))
	if err != nil || !a.Balance.IsZero() || a.Status != "closed" {
		t.Errorf("the tombstone's account: %+v %v", a, err)
	}

	// What the erasure setting does not open.
	for _, sql := range []string{
		`UPDATE ledger_entries SET amount = amount * 2 WHERE account_id = 'rider:' || $1`,
		`UPDATE ledger_entries SET account_id = 'provider:sim:settlement' WHERE account_id = 'rider:' || $1`,
		`UPDATE ledger_transactions SET memo = 'nothing' WHERE idempotency_key LIKE '%' || $1 || '%'`,
		`DELETE FROM ledger_entries WHERE account_id = 'rider:' || $1`,
		`UPDATE audit_log SET reason = 'nothing' WHERE rider = $1`,
		`DELETE FROM audit_log WHERE rider = $1`,
	} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT set_config('vnpass.erasure', $1, true)`, tomb); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, sql, tomb)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s under the erasure setting: %v, want refused", sql, err)
		}
	}
}
