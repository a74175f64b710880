package main

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/dashhttp"
)

// dashboardRoutes is the operators' dashboard API under /v1/dashboard
// (its page is /dashboard/): ClickHouse aggregates, the parking store's
// live occupancy and, with VNPASS_FLEET_URL, the fleet's device view.
func (m *Main) dashboardRoutes(fares *fare.Set) func(fiber.Router) {
	cfg := dashhttp.Config{Aggregates: m.Sink, Fares: fares, Now: m.Config.Now, FleetURL: m.Config.FleetURL,
		FleetToken: func() (string, error) {
			// The fleet shares the platform's token secret; the dashboard
			// filters what it answers to the caller's scope.
			return m.Auth.Issue("vnpass-fare-dashboard", authjwt.RoleOperator, time.Minute)
		}}
	if m.Parking != nil && m.Parking.Store != nil {
		cfg.Lots = m.Parking.Catalogue.Lots()
		cfg.Occupancy = func(ctx context.Context) (map[string]parking.Occupancy, error) {
			return m.Parking.Store.Occupancy(ctx)
		}
	}
	return dashhttp.Routes(cfg)
}
