package partnerpg

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vnpass/vnpass/partner"
)

// RegisterPartner records a new partner with a fresh webhook secret, which
// it returns (shown once to the partner).
func (s *Store) RegisterPartner(ctx context.Context, p partner.Partner) (partner.Partner, error) {
	if err := p.Check(); err != nil {
		return partner.Partner{}, err
	}
	p.WebhookSecret = make([]byte, 32)
	rand.Read(p.WebhookSecret)
	p.Active = true
	now := s.cfg.Now()
	// Not s.inTx: a duplicate id is an answer here, not a race to retry.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO partners (id, name, kind, public_key, scopes, webhook_url, webhook_secret, rate_per_min, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			p.ID, p.Name, string(p.Kind), []byte(p.PublicKey), scopeStrings(p.Scopes), p.WebhookURL, p.WebhookSecret, p.RatePerMin, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO partner_keys (partner_id, kid, public_key, created_at) VALUES ($1, $2, $3, $4)`,
			p.ID, partner.FirstKID, []byte(p.PublicKey), now)
		return err
	})
	p.Keys = []partner.Key{{Partner: p.ID, KID: partner.FirstKID, PublicKey: p.PublicKey, CreatedAt: now}}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return partner.Partner{}, fmt.Errorf("%w: partner %s exists", partner.ErrConflict, p.ID)
	}
	if err != nil {
		return partner.Partner{}, fmt.Errorf("partnerpg: register partner: %w", err)
	}
	return p, nil
}

// Partner returns a registered partner with its active keys, or
// partner.ErrNotFound. Read on every partner call (no cache): a retired
// key is refused from the next request on.
func (s *Store) Partner(ctx context.Context, id string) (partner.Partner, error) {
	var p partner.Partner
	var kind, status string
	var key []byte
	var scopes []string
	err := s.pool.QueryRow(ctx, `SELECT id, name, kind, public_key, scopes, webhook_url, webhook_secret, rate_per_min, status
		FROM partners WHERE id = $1`, id).Scan(&p.ID, &p.Name, &kind, &key, &scopes, &p.WebhookURL, &p.WebhookSecret, &p.RatePerMin, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return partner.Partner{}, partner.ErrNotFound
	}
	if err != nil {
		return partner.Partner{}, fmt.Errorf("partnerpg: partner: %w", err)
	}
	p.Kind, p.PublicKey, p.Scopes, p.Active = partner.Kind(kind), key, toScopes(scopes), status == "active"
	if p.Keys, err = activeKeys(ctx, s.pool, id); err != nil {
		return partner.Partner{}, fmt.Errorf("partnerpg: partner keys: %w", err)
	}
	return p, nil
}

// GrantConsent records the rider's consent to a partner (replacing one in
// force) and returns it with the partner's handle for the rider.
func (s *Store) GrantConsent(ctx context.Context, partnerID, subject string, scopes []partner.Scope, expires time.Time) (partner.Consent, error) {
	now := s.cfg.Now()
	if len(scopes) == 0 {
		return partner.Consent{}, fmt.Errorf("%w: at least one scope", partner.ErrInvalid)
	}
	for _, sc := range scopes {
		if !sc.Valid() {
			return partner.Consent{}, fmt.Errorf("%w: unknown scope %q", partner.ErrInvalid, sc)
		}
	}
	if !expires.After(now) || expires.Sub(now) > partner.MaxConsent {
		return partner.Consent{}, fmt.Errorf("%w: expiry must be in the future and within a year", partner.ErrInvalid)
	}
	if _, err := s.Partner(ctx, partnerID); err != nil {
		return partner.Consent{}, err
	}
	c := partner.Consent{Partner: partnerID, Subject: subject, RiderRef: s.riderRef(partnerID, subject), Scopes: scopes, GrantedAt: now, ExpiresAt: expires}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO consents (partner_id, subject, rider_ref, scopes, granted_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (partner_id, subject) DO UPDATE SET scopes = $4, granted_at = $5, expires_at = $6, withdrawn_at = NULL`,
			partnerID, subject, c.RiderRef, scopeStrings(scopes), now, expires); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO consent_events (at, partner_id, subject, action, scopes, expires_at) VALUES ($1, $2, $3, 'grant', $4, $5)`,
			now, partnerID, subject, scopeStrings(scopes), expires)
		return err
	})
	if err != nil {
		return partner.Consent{}, fmt.Errorf("partnerpg: grant consent: %w", err)
	}
	return c, nil
}

// WithdrawConsent ends the rider's consent to a partner now.
func (s *Store) WithdrawConsent(ctx context.Context, partnerID, subject string) (partner.Consent, error) {
	now := s.cfg.Now()
	var c partner.Consent
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var scopes []string
		err := tx.QueryRow(ctx, `UPDATE consents SET withdrawn_at = $3 WHERE partner_id = $1 AND subject = $2 AND withdrawn_at IS NULL
			RETURNING rider_ref, scopes, granted_at, expires_at`, partnerID, subject, now).Scan(&c.RiderRef, &scopes, &c.GrantedAt, &c.ExpiresAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return partner.ErrNotFound
		}
		if err != nil {
			return err
		}
		c.Partner, c.Subject, c.Scopes, c.WithdrawnAt = partnerID, subject, toScopes(scopes), now
		_, err = tx.Exec(ctx, `INSERT INTO consent_events (at, partner_id, subject, action, scopes) VALUES ($1, $2, $3, 'withdraw', $4)`,
			now, partnerID, subject, scopes)
		return err
	})
	if errors.Is(err, partner.ErrNotFound) {
		return partner.Consent{}, err
	}
	if err != nil {
		return partner.Consent{}, fmt.Errorf("partnerpg: withdraw consent: %w", err)
	}
	return c, nil
}

// Consents lists the rider's consents, withdrawn ones included.
func (s *Store) Consents(ctx context.Context, subject string) ([]partner.Consent, error) {
	rows, err := s.pool.Query(ctx, `SELECT partner_id, subject, rider_ref, scopes, granted_at, expires_at, withdrawn_at
		FROM consents WHERE subject = $1 ORDER BY partner_id`, subject)
	if err != nil {
		return nil, fmt.Errorf("partnerpg: consents: %w", err)
	}
	defer rows.Close()
	var out []partner.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("partnerpg: consents: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ConsentByRef returns the consent behind a partner's rider handle
// (withdrawn or expired included: the caller judges), or ErrNotFound.
func (s *Store) ConsentByRef(ctx context.Context, partnerID, ref string) (partner.Consent, error) {
	return consentByRef(ctx, s.pool, partnerID, ref, false)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func consentByRef(ctx context.Context, q querier, partnerID, ref string, lock bool) (partner.Consent, error) {
	sql := `SELECT partner_id, subject, rider_ref, scopes, granted_at, expires_at, withdrawn_at
		FROM consents WHERE partner_id = $1 AND rider_ref = $2`
	if lock {
		sql += " FOR SHARE"
	}
	c, err := scanConsent(q.QueryRow(ctx, sql, partnerID, ref))
	if errors.Is(err, pgx.ErrNoRows) {
		return partner.Consent{}, partner.ErrNotFound
	}
	if err != nil {
		return partner.Consent{}, fmt.Errorf("partnerpg: consent: %w", err)
	}
	return c, nil
}

func consentOf(ctx context.Context, q querier, partnerID, subject string) (partner.Consent, error) {
	c, err := scanConsent(q.QueryRow(ctx, `SELECT partner_id, subject, rider_ref, scopes, granted_at, expires_at, withdrawn_at
		FROM consents WHERE partner_id = $1 AND subject = $2`, partnerID, subject))
	if errors.Is(err, pgx.ErrNoRows) {
		return partner.Consent{}, partner.ErrNotFound
	}
	return c, err
}

func scanConsent(r pgx.Row) (partner.Consent, error) {
	var c partner.Consent
	var scopes []string
	var withdrawn *time.Time
	if err := r.Scan(&c.Partner, &c.Subject, &c.RiderRef, &scopes, &c.GrantedAt, &c.ExpiresAt, &withdrawn); err != nil {
		return partner.Consent{}, err
	}
	c.Scopes = toScopes(scopes)
	if withdrawn != nil {
		c.WithdrawnAt = *withdrawn
	}
	return c, nil
}

func scopeStrings(ss []partner.Scope) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func toScopes(ss []string) []partner.Scope {
	out := make([]partner.Scope, len(ss))
	for i, s := range ss {
		out[i] = partner.Scope(s)
	}
	return out
}
