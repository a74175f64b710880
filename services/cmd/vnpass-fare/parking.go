package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
	"github.com/vnpass/vnpass/services/parkinghttp"
	"github.com/vnpass/vnpass/services/parkingpg"
)

// Parking is the parking service inside the fare service: the barriers'
// taps come on the same tap stream (dispatched by kind), settle in the same
// database and ledger, and closed sessions go to ClickHouse beside journeys.
type Parking struct {
	// Catalogue is the lots and tariffs; nil for Config.ParkingData
	// (VNPASS_PARKING_DATA) or the shipped ones. Tests set it before Open
	// (Main.Parking = &Parking{Catalogue: ...}).
	Catalogue *parking.Catalogue
	Store     *parkingpg.Store
	Handler   *parkingpg.Handler
	pseudo    *ridership.Pseudonymizer
}

// openParking loads the shipped lots and tariffs, opens the parking store,
// registers the barrier handler for both parking kinds and starts the
// export of closed sessions.
func (m *Main) openParking(ctx, runCtx context.Context, verifier identity.Verifier) error {
	cfg := m.Config
	p := m.Parking
	if p == nil {
		p = &Parking{}
	}
	var err error
	switch {
	case p.Catalogue != nil:
	case cfg.ParkingData != "":
		if p.Catalogue, err = parking.Load(os.DirFS(cfg.ParkingData)); err != nil {
			return fmt.Errorf("parking data %s: %w", cfg.ParkingData, err)
		}
	default:
		if p.Catalogue, err = parking.Shipped(); err != nil {
			return fmt.Errorf("parking data: %w", err)
		}
	}
	cat := p.Catalogue
	m.Log.Info("parking lots loaded", "lots", len(cat.Lots()), "parking_data", cfg.ParkingData)
	if p.Store, err = parkingpg.Open(ctx, cfg.PostgresURL, cat, cfg.Now); err != nil {
		return err
	}
	m.Parking = p
	p.Handler, err = parkingpg.NewHandler(parkingpg.Config{
		Store: p.Store, Verifier: verifier, Topics: cfg.Topics, Now: cfg.Now, MaxTapAge: cfg.DecisionTimeout,
		Rules: parking.Rules{DebtLimit: decimal.NewFromInt(cfg.DebtLimit)},
	})
	if err != nil {
		return err
	}
	m.Dispatch.ByKind[proto.KindParkingEntry] = p.Handler
	m.Dispatch.ByKind[proto.KindParkingExit] = p.Handler
	if err := m.Sink.EnsureParking(ctx); err != nil {
		return err
	}
	if p.pseudo, err = ridership.NewPseudonymizer([]byte(cfg.PseudonymKey)); err != nil {
		return err
	}
	m.goRun(func() {
		p.Store.ExportEvery(runCtx, m.Sink, p.pseudo, cfg.ExportInterval, func(err error) {
			m.Log.Warn("parking export failed; retried at the next tick", "err", err)
		})
	})
	return nil
}

// parkingRoutes is the parking API under /v1.
func (m *Main) parkingRoutes() func(fiber.Router) {
	return func(v1 fiber.Router) {
		if m.Parking != nil {
			parkinghttp.Routes(parkinghttp.Config{Store: m.Parking.Store, Now: m.Config.Now})(v1)
		}
	}
}

// closeParking exports what is left and closes the store; the sink is
// still open.
func (m *Main) closeParking() {
	if m.Parking == nil || m.Parking.Store == nil {
		return
	}
	if m.Sink != nil && m.Parking.pseudo != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for {
			n, err := m.Parking.Store.Export(ctx, m.Sink, m.Parking.pseudo, 1000)
			if err != nil {
				m.Log.Error("final parking export failed; sent at the next start", "err", err)
			}
			if err != nil || n < 1000 {
				break
			}
		}
		cancel()
	}
	m.Parking.Store.Close()
}

// parkingMetrics adds the barriers' counters to the metrics page.
func (m *Main) parkingMetrics(b *strings.Builder) {
	if m.Parking == nil || m.Parking.Handler == nil {
		return
	}
	s := &m.Parking.Handler.Stats
	fmt.Fprintf(b, "# HELP vnpass_parking_taps_total Parking barrier taps decided, by outcome.\n# TYPE vnpass_parking_taps_total counter\n")
	for _, c := range []struct {
		name string
		v    int64
	}{{"opened", s.Opened.Load()}, {"refused", s.Refused.Load()}, {"duplicate", s.Duplicates.Load()},
		{"malformed", s.Malformed.Load()}, {"store_error", s.StoreErrors.Load()}} {
		fmt.Fprintf(b, "vnpass_parking_taps_total{outcome=%q} %d\n", c.name, c.v)
	}
}
