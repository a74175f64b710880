package settlepg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
)

// Passes sold by partners (transport apps) and bound to riders through the
// partner API (services/partnerhttp). The rider paid the partner, not
// vnpass: the pass is recorded with amount 0 and no ledger movement,
// source 'partner', the partner and its own sale id, and list_amount, the
// price the fare data gives the product. Admission honours it like any
// pass. The partner may revoke it: from revoked_at on it covers no journey
// (settlement reads least(valid_until, revoked_at)); journeys priced before
// keep their price. Both run inside the caller's transaction (the partner
// store holds the rider's consent in it) and lock the rider's account as
// settlement does, so a revocation waits for a journey being priced and the
// next one sees it.

// ErrPassNotFound: no pass of that id bound by that partner to that rider.
var ErrPassNotFound = errors.New("settlepg: no such partner pass")

// ErrPassExists: the partner bound another pass under that external id.
var ErrPassExists = errors.New("settlepg: the partner's external id names another pass")

// PartnerPass is a pass a partner sold and bound to a rider.
type PartnerPass struct {
	ID         int64
	Subject    string
	Partner    string
	ExternalID string
	// Pass is the product as priced by the fare data at binding: Amount is
	// the list price (what vnpass took is 0).
	Pass      fare.Pass
	BoundAt   time.Time
	RevokedAt time.Time // zero while not revoked
}

// Covers reports whether the pass pays for a journey on network entering
// at at, revocation included.
func (p PartnerPass) Covers(network string, at time.Time) bool {
	return fare.PassCovers(p.Pass, network, at) && (p.RevokedAt.IsZero() || at.Before(p.RevokedAt))
}

// PassGrant is what a partner binds.
type PassGrant struct {
	Partner        string
	Subject        string
	ExternalID     string // the partner's own id of the sale, unique per partner
	IdempotencyKey string // the same key again returns the pass bound then
	Pass           fare.Pass
}

const partnerPassCols = `id, subject, partner_id, external_id, product_id, network_id, category, list_amount, price_rule,
	valid_from, valid_until, created_at, revoked_at`

func scanPartnerPass(r pgx.Row) (PartnerPass, error) {
	var p PartnerPass
	var revoked *time.Time
	if err := r.Scan(&p.ID, &p.Subject, &p.Partner, &p.ExternalID, &p.Pass.ProductID, &p.Pass.NetworkID, &p.Pass.Category,
		&p.Pass.Amount, &p.Pass.RuleID, &p.Pass.ValidFrom, &p.Pass.ValidUntil, &p.BoundAt, &revoked); err != nil {
		return PartnerPass{}, err
	}
	if revoked != nil {
		p.RevokedAt = *revoked
	}
	return p, nil
}

func partnerPassKey(partnerID, key string) string { return "partner-pass:" + partnerID + ":" + key }

// GrantPass records, inside tx, a pass the partner sold to the rider, with
// no ledger movement. It reports whether it was created: the same
// idempotency key again returns the pass bound then (false), whatever its
// start, or ledger.ErrKeyConflict if the key was used for another product,
// category, rider or external id; an external id the partner used for
// another pass is ErrPassExists. The rider needs an open vnpass account
// (ledger.ErrNoAccount).
func GrantPass(ctx context.Context, tx pgx.Tx, g PassGrant, now time.Time) (PartnerPass, bool, error) {
	if g.Partner == "" || g.Subject == "" || g.ExternalID == "" || g.IdempotencyKey == "" || g.Pass.ProductID == "" {
		return PartnerPass{}, false, errors.New("settlepg: grant pass: partner, subject, external id, idempotency key and pass are required")
	}
	key := partnerPassKey(g.Partner, g.IdempotencyKey)
	same := func(p PartnerPass) bool {
		// Not the start: a retry without one is priced from a later now.
		return p.Partner == g.Partner && p.Subject == g.Subject && p.ExternalID == g.ExternalID &&
			p.Pass.ProductID == g.Pass.ProductID && p.Pass.Category == g.Pass.Category
	}
	// The rider's lock first: binds racing under one key then see each
	// other's pass (read committed), like settlement's decisions.
	acct, err := LockRider(ctx, tx, g.Subject)
	if err != nil {
		return PartnerPass{}, false, err
	}
	if !acct.Exists || acct.Status == "closed" {
		return PartnerPass{}, false, fmt.Errorf("%w: %s", ledger.ErrNoAccount, g.Subject)
	}
	old, err := scanPartnerPass(tx.QueryRow(ctx, `SELECT `+partnerPassCols+` FROM passes WHERE idempotency_key = $1`, key))
	switch {
	case err == nil && same(old):
		return old, false, nil
	case err == nil:
		return PartnerPass{}, false, fmt.Errorf("%w: %s", ledger.ErrKeyConflict, g.IdempotencyKey)
	case !errors.Is(err, pgx.ErrNoRows):
		return PartnerPass{}, false, fmt.Errorf("settlepg: grant pass: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM passes WHERE partner_id = $1 AND external_id = $2)`,
		g.Partner, g.ExternalID).Scan(&exists); err != nil {
		return PartnerPass{}, false, fmt.Errorf("settlepg: grant pass: %w", err)
	}
	if exists {
		return PartnerPass{}, false, fmt.Errorf("%w: %s", ErrPassExists, g.ExternalID)
	}
	p := g.Pass
	out, err := scanPartnerPass(tx.QueryRow(ctx, `INSERT INTO passes (subject, product_id, network_id, category, amount, price_rule,
			valid_from, valid_until, idempotency_key, created_at, source, partner_id, external_id, list_amount)
		VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8, $9, 'partner', $10, $11, $12) RETURNING `+partnerPassCols,
		g.Subject, p.ProductID, p.NetworkID, p.Category, p.RuleID, p.ValidFrom, p.ValidUntil, key, now,
		g.Partner, g.ExternalID, p.Amount))
	if err != nil {
		return PartnerPass{}, false, fmt.Errorf("settlepg: grant pass: %w", err)
	}
	return out, true, nil
}

// RevokePass ends, inside tx, a pass the partner bound to the rider: from
// now (read once the rider is locked) on it covers no journey. Revoking a
// revoked pass returns it unchanged. ErrPassNotFound for a pass the partner
// did not bind to that rider, whoever else holds it.
func RevokePass(ctx context.Context, tx pgx.Tx, partnerID, subject string, id int64, now func() time.Time) (PartnerPass, error) {
	if _, err := LockRider(ctx, tx, subject); err != nil {
		return PartnerPass{}, err
	}
	old, err := scanPartnerPass(tx.QueryRow(ctx, `SELECT `+partnerPassCols+` FROM passes
		WHERE id = $1 AND partner_id = $2 AND subject = $3 FOR UPDATE`, id, partnerID, subject))
	if errors.Is(err, pgx.ErrNoRows) {
		return PartnerPass{}, ErrPassNotFound
	}
	if err != nil {
		return PartnerPass{}, fmt.Errorf("settlepg: revoke pass: %w", err)
	}
	if !old.RevokedAt.IsZero() {
		return old, nil
	}
	out, err := scanPartnerPass(tx.QueryRow(ctx, `UPDATE passes SET revoked_at = $2 WHERE id = $1 RETURNING `+partnerPassCols, id, now()))
	if err != nil {
		return PartnerPass{}, fmt.Errorf("settlepg: revoke pass: %w", err)
	}
	return out, nil
}

// PartnerPasses lists the passes the partner bound to the rider, revoked
// ones included, newest first.
func (s *Store) PartnerPasses(ctx context.Context, partnerID, subject string) ([]PartnerPass, error) {
	rows, err := s.reader().Query(ctx, `SELECT `+partnerPassCols+` FROM passes
		WHERE partner_id = $1 AND subject = $2 ORDER BY id DESC LIMIT 500`, partnerID, subject)
	if err != nil {
		return nil, fmt.Errorf("settlepg: partner passes: %w", err)
	}
	defer rows.Close()
	var out []PartnerPass
	for rows.Next() {
		p, err := scanPartnerPass(rows)
		if err != nil {
			return nil, fmt.Errorf("settlepg: partner passes: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
