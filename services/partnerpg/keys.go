package partnerpg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vnpass/vnpass/partner"
)

// activeKeys returns a partner's active keys, oldest first.
func activeKeys(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, partnerID string) ([]partner.Key, error) {
	rows, err := q.Query(ctx, `SELECT kid, public_key, created_at FROM partner_keys
		WHERE partner_id = $1 AND retired_at IS NULL ORDER BY created_at, kid`, partnerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []partner.Key
	for rows.Next() {
		k := partner.Key{Partner: partnerID}
		var pub []byte
		if err := rows.Scan(&k.KID, &pub, &k.CreatedAt); err != nil {
			return nil, err
		}
		k.PublicKey = pub
		out = append(out, k)
	}
	return out, rows.Err()
}

// AddPartnerKey registers another active key of a partner (for a
// rotation): partner.ErrNotFound without the partner, ErrKeyExists when
// the kid or the public key is on record already (retired ones included),
// ErrTooManyKeys at partner.MaxActiveKeys active keys.
func (s *Store) AddPartnerKey(ctx context.Context, k partner.Key) (partner.Key, error) {
	if err := k.Check(); err != nil {
		return partner.Key{}, err
	}
	k.CreatedAt, k.RetiredAt = s.cfg.Now(), time.Time{}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockPartner(ctx, tx, k.Partner); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM partner_keys WHERE partner_id = $1 AND retired_at IS NULL`,
			k.Partner).Scan(&n); err != nil {
			return err
		}
		if n >= partner.MaxActiveKeys {
			return partner.ErrTooManyKeys
		}
		_, err := tx.Exec(ctx, `INSERT INTO partner_keys (partner_id, kid, public_key, created_at) VALUES ($1, $2, $3, $4)`,
			k.Partner, k.KID, []byte(k.PublicKey), k.CreatedAt)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return partner.ErrKeyExists // not retried by inTx: the error is ours now
		}
		return err
	})
	if isDomain(err) {
		return partner.Key{}, err
	}
	if err != nil {
		return partner.Key{}, fmt.Errorf("partnerpg: add partner key: %w", err)
	}
	return k, nil
}

// RetirePartnerKey retires a partner's active key now: from the next
// request on, tokens it signed are refused. partner.ErrNotFound without
// the partner or an active key of that kid; ErrLastKey for the partner's
// only active key (deactivating the partner is how to stop it entirely).
func (s *Store) RetirePartnerKey(ctx context.Context, partnerID, kid string) (partner.Key, error) {
	now := s.cfg.Now()
	k := partner.Key{Partner: partnerID, KID: kid}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockPartner(ctx, tx, partnerID); err != nil {
			return err
		}
		active, err := activeKeys(ctx, tx, partnerID)
		if err != nil {
			return err
		}
		found := false
		for _, a := range active {
			if a.KID == kid {
				found, k = true, a
			}
		}
		switch {
		case !found:
			return partner.ErrNotFound
		case len(active) == 1:
			return partner.ErrLastKey
		}
		k.RetiredAt = now
		_, err = tx.Exec(ctx, `UPDATE partner_keys SET retired_at = $3 WHERE partner_id = $1 AND kid = $2 AND retired_at IS NULL`,
			partnerID, kid, now)
		return err
	})
	if isDomain(err) {
		return partner.Key{}, err
	}
	if err != nil {
		return partner.Key{}, fmt.Errorf("partnerpg: retire partner key: %w", err)
	}
	return k, nil
}

// lockPartner locks the partner's row, so that key changes of one partner
// happen one at a time (the active-key count holds), or ErrNotFound.
func lockPartner(ctx context.Context, tx pgx.Tx, id string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM partners WHERE id = $1 FOR UPDATE`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return partner.ErrNotFound
	}
	return err
}

func isDomain(err error) bool {
	return errors.Is(err, partner.ErrNotFound) || errors.Is(err, partner.ErrKeyExists) ||
		errors.Is(err, partner.ErrTooManyKeys) || errors.Is(err, partner.ErrLastKey)
}
