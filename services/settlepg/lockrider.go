package settlepg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/ledger"
)

// What other services' stores (parking) read of a rider inside a
// transaction of their own, so that their records and the money commit
// together (ClaimAssertion, claim.go, claims the assertion id).

// RiderAccount is a rider's account as a decision reads it.
type RiderAccount struct {
	Exists    bool
	Status    string // active, suspended, closed
	Postpaid  bool
	Balance   decimal.Decimal
	DebtSince time.Time
}

// LockRider reads a rider's account inside tx and locks it until tx ends,
// as the metro's settlement does, so that decisions on one rider are
// serialised whatever service makes them.
func LockRider(ctx context.Context, tx pgx.Tx, subject string) (RiderAccount, error) {
	var a RiderAccount
	var funding string
	var debt *time.Time
	err := tx.QueryRow(ctx, `SELECT status, funding, balance, debt_since FROM accounts WHERE id = $1 FOR UPDATE`,
		string(ledger.Rider(subject))).Scan(&a.Status, &funding, &a.Balance, &debt)
	if errors.Is(err, pgx.ErrNoRows) {
		return RiderAccount{}, nil
	}
	if err != nil {
		return RiderAccount{}, fmt.Errorf("settlepg: lock rider: %w", err)
	}
	a.Exists, a.Postpaid = true, funding == "postpaid"
	if debt != nil {
		a.DebtSince = *debt
	}
	return a, nil
}
