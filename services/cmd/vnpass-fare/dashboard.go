package main

import (
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/dispute"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/dashhttp"
	"github.com/vnpass/vnpass/services/disputepg"
	"github.com/vnpass/vnpass/services/parkingpg"
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
	if m.Disputes != nil {
		cfg.Disputes = m.openDisputes
	}
	return dashhttp.Routes(cfg)
}

// openDisputes is the open disputes with the line or lot of each charge,
// for the dashboard to show each operator its own.
func (m *Main) openDisputes(ctx context.Context) ([]dashhttp.Dispute, error) {
	ds, err := m.Disputes.List(ctx, disputepg.Filter{Status: dispute.StatusOpen, Limit: 200})
	if err != nil {
		return nil, err
	}
	out := make([]dashhttp.Dispute, 0, len(ds))
	for _, d := range ds {
		v := dashhttp.Dispute{ID: d.ID, Kind: string(d.Kind), ChargeID: d.ChargeID, ChargedVND: money.Round(d.Charged).IntPart(),
			Reason: d.Reason, CreatedAt: d.CreatedAt, Subject: d.Subject}
		switch d.Kind {
		case dispute.KindJourney:
			j, err := m.Store.Journey(ctx, d.ChargeID)
			if err != nil && !errors.Is(err, explain.ErrNoJourney) {
				return nil, err
			}
			v.Line, v.Operator = j.NetworkID, j.OperatorID
		case dispute.KindParking:
			if m.Parking == nil || m.Parking.Store == nil {
				break
			}
			s, err := m.Parking.Store.RiderSession(ctx, d.ChargeID)
			if err != nil && !errors.Is(err, parkingpg.ErrNoSessionID) {
				return nil, err
			}
			v.Lot = s.Lot
		}
		out = append(out, v)
	}
	return out, nil
}
