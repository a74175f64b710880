package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/rail"
	"github.com/vnpass/vnpass/services/partnerhttp"
	"github.com/vnpass/vnpass/services/partnerpg"
	"github.com/vnpass/vnpass/services/settlepg"
)

// Partners is the rail gates and the partner API in the fare service:
// rail taps come on the one tap stream (dispatched by kind), the partner
// API is mounted on the service's HTTP server under /partner/v1, and
// webhooks go out from here.
type Partners struct {
	Store      *partnerpg.Store
	Rail       *rail.Network
	Gates      *rail.Gates
	API        *partnerhttp.API
	Dispatcher *partnerhttp.Dispatcher
}

// openPartners opens the partner store and the rail gates' handler, and
// registers the handler for rail gates. Called once m.Dispatch exists.
func (m *Main) openPartners(ctx, runCtx context.Context, verifier identity.Verifier) error {
	cfg := m.Config
	p := &Partners{}
	m.Partners = p
	var err error
	if cfg.RailData != "" {
		p.Rail, err = rail.Load(os.DirFS(cfg.RailData))
	} else {
		p.Rail, err = rail.Shipped()
	}
	if err != nil {
		return fmt.Errorf("rail data: %w", err)
	}
	p.Store, err = partnerpg.Open(ctx, cfg.PostgresURL, partnerpg.Config{
		RefKey: riderRefKey(cfg.PseudonymKey), ClaimJTI: settlepg.ClaimAssertion, Now: cfg.Now,
	})
	if err != nil {
		return err
	}
	p.Gates, err = rail.NewGates(rail.GateConfig{
		Network: p.Rail, Verifier: verifier, Store: p.Store, Topics: cfg.Topics, Now: cfg.Now, MaxTapAge: cfg.DecisionTimeout,
	})
	if err != nil {
		return err
	}
	m.Dispatch.ByKind[proto.KindRailGate] = p.Gates
	p.Dispatcher = &partnerhttp.Dispatcher{Store: p.Store, Log: m.Log, Now: cfg.Now}
	m.goRun(func() { p.Dispatcher.Run(runCtx) })
	// Partners that may read a rider's journeys hear when one finishes.
	m.goRun(func() {
		m.every(runCtx, time.Second, "journey webhooks enqueued", func(ctx context.Context) (int, error) {
			return p.Store.EnqueueJourneyEvents(ctx, 24*time.Hour)
		})
	})
	return nil
}

// mountPartners mounts the partner API on the service's HTTP server
// (once m.Auth and m.app exist). The passes partners sell are priced by
// the fare data and kept in settlement's passes table.
func (m *Main) mountPartners(fares *fare.Set) error {
	var err error
	m.Partners.API, err = partnerhttp.New(partnerhttp.Config{
		Store: m.Partners.Store, Riders: partnerhttp.SettleRiders{Store: m.Store}, Auth: m.Auth, Now: m.Config.Now, Log: m.Log,
		Passes: partnerhttp.SettlePasses{Partners: m.Partners.Store, Settle: m.Store, Now: m.Config.Now}, Fares: fares,
	})
	if err != nil {
		return err
	}
	m.Partners.API.Mount(m.app)
	return nil
}

// riderRefKey derives the key of partners' rider handles from the
// pseudonym key: one secret to keep, and handles that differ from the
// analytics pseudonyms.
func riderRefKey(pseudonymKey string) []byte {
	m := hmac.New(sha256.New, []byte(pseudonymKey))
	m.Write([]byte("vnpass partner rider reference v1"))
	return m.Sum(nil)
}
