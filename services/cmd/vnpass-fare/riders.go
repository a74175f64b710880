package main

import (
	"context"

	"github.com/vnpass/vnpass/services/partnerpg"
	"github.com/vnpass/vnpass/services/riderhttp"
)

// riderConsents is the partners' consents in the rider's view; nil when the
// partner store is not open.
func (m *Main) riderConsents() riderhttp.Consents {
	if m.Partners == nil || m.Partners.Store == nil {
		return nil
	}
	return partnerConsents{m.Partners.Store}
}

// partnerConsents adapts the partner store to riderhttp.Consents.
type partnerConsents struct{ s *partnerpg.Store }

func (p partnerConsents) RiderConsents(ctx context.Context, subject string) ([]riderhttp.Consent, error) {
	cs, err := p.s.Consents(ctx, subject)
	if err != nil {
		return nil, err
	}
	out := make([]riderhttp.Consent, len(cs))
	for i, c := range cs {
		scopes := make([]string, len(c.Scopes))
		for j, s := range c.Scopes {
			scopes[j] = string(s)
		}
		out[i] = riderhttp.Consent{Partner: c.Partner, Scopes: scopes, GivenAt: c.GrantedAt, ExpiresAt: c.ExpiresAt, RevokedAt: c.WithdrawnAt}
	}
	return out, nil
}
