package partner

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"
)

func TestConsentAllows(t *testing.T) {
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	c := Consent{Scopes: []Scope{ScopeTickets}, GrantedAt: now, ExpiresAt: now.Add(time.Hour)}
	cases := []struct {
		name  string
		c     Consent
		scope Scope
		at    time.Time
		want  bool
	}{
		{"in force", c, ScopeTickets, now, true},
		{"another scope", c, ScopeJourneys, now, false},
		{"expired", c, ScopeTickets, now.Add(time.Hour), false},
		{"withdrawn", Consent{Scopes: c.Scopes, ExpiresAt: c.ExpiresAt, WithdrawnAt: now}, ScopeTickets, now, false},
	}
	for _, k := range cases {
		if got := k.c.Allows(k.scope, k.at); got != k.want {
			t.Errorf("%s: %v, want %v", k.name, got, k.want)
		}
	}
}

func TestPartnerCheck(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	ok := Partner{ID: "ve-tau", Name: "Vé tàu", Kind: KindTicketing, PublicKey: pub, Scopes: []Scope{ScopeTickets}, RatePerMin: 60}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Partner){
		"bad id":        func(p *Partner) { p.ID = "Ve Tau" },
		"bad kind":      func(p *Partner) { p.Kind = "bank" },
		"short key":     func(p *Partner) { p.PublicKey = pub[:16] },
		"unknown scope": func(p *Partner) { p.Scopes = []Scope{"everything"} },
		"no rate":       func(p *Partner) { p.RatePerMin = 0 },
	} {
		p := ok
		edit(&p)
		if err := p.Check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
