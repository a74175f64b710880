package partnerpg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/partner"
)

// Passes partners sold are kept by settlement (settlepg.GrantPass,
// RevokePass: the passes table admission prices journeys with); this
// store holds the rider's consent while they are written, so that a pass
// is bound only under a consent in force, whatever withdrawal races it.

// WithConsent runs fn in a transaction holding (FOR SHARE) the rider's
// consent behind the partner's handle, when it is in force for scope:
// partner.ErrNoConsent otherwise, whatever the reason (unknown handle,
// another partner's rider, withdrawn, expired, another scope), so that a
// partner learns nothing from it. fn may be run again on a serialization
// failure or a concurrent insert of the same key.
func (s *Store) WithConsent(ctx context.Context, partnerID, riderRef string, scope partner.Scope, fn func(tx pgx.Tx, c partner.Consent) error) (partner.Consent, error) {
	var out partner.Consent
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := consentByRef(ctx, tx, partnerID, riderRef, true)
		if errors.Is(err, partner.ErrNotFound) || (err == nil && !c.Allows(scope, s.cfg.Now())) {
			out = c // the rider concerned, for the audit, when the handle is known
			return partner.ErrNoConsent
		}
		if err != nil {
			return err
		}
		out = c
		return fn(tx, c)
	})
	if errors.Is(err, partner.ErrNoConsent) {
		return out, err
	}
	if err != nil {
		return out, fmt.Errorf("partnerpg: %w", err)
	}
	return out, nil
}

// WithRider runs fn in a transaction with the rider behind the partner's
// handle, whether or not a consent is in force (a partner undoes what it
// sold, like a cancelled ticket, without it); partner.ErrNotFound for a
// handle the partner was never given.
func (s *Store) WithRider(ctx context.Context, partnerID, riderRef string, fn func(tx pgx.Tx, c partner.Consent) error) (partner.Consent, error) {
	var out partner.Consent
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := consentByRef(ctx, tx, partnerID, riderRef, true)
		if err != nil {
			return err
		}
		out = c
		return fn(tx, c)
	})
	if errors.Is(err, partner.ErrNotFound) {
		return out, err
	}
	if err != nil {
		return out, fmt.Errorf("partnerpg: %w", err)
	}
	return out, nil
}
