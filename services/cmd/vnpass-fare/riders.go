package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/parkingpg"
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

// riderParking is the rider's parking sessions in the rider's view; nil
// when the parking store is not open.
func (m *Main) riderParking() riderhttp.Parking {
	if m.Parking == nil || m.Parking.Store == nil {
		return nil
	}
	return parkingSessions{m.Parking.Store}
}

// parkingSessions adapts the parking store to riderhttp.Parking.
type parkingSessions struct{ s *parkingpg.Store }

func (p parkingSessions) RiderSessions(ctx context.Context, subject string, from, to time.Time, limit int) ([]riderhttp.ParkingSession, error) {
	rs, err := p.s.RiderSessions(ctx, subject, from, to, limit)
	if err != nil {
		return nil, err
	}
	out := make([]riderhttp.ParkingSession, len(rs))
	for i, r := range rs {
		out[i] = riderParkingSession(r)
	}
	return out, nil
}

func (p parkingSessions) Session(ctx context.Context, id int64) (riderhttp.ParkingSession, error) {
	r, err := p.s.RiderSession(ctx, id)
	if errors.Is(err, parkingpg.ErrNoSessionID) {
		return riderhttp.ParkingSession{}, riderhttp.ErrNoSession
	}
	if err != nil {
		return riderhttp.ParkingSession{}, err
	}
	return riderParkingSession(r), nil
}

func (p parkingSessions) RefundSession(ctx context.Context, id int64, amount decimal.Decimal, reason, by, key string) (int64, error) {
	txID, err := p.s.RefundSession(ctx, id, amount, reason, by, key)
	if errors.Is(err, parkingpg.ErrNoSessionID) {
		return 0, riderhttp.ErrNoSession
	}
	return txID, err
}

func riderParkingSession(r parkingpg.RiderSession) riderhttp.ParkingSession {
	status := "closed"
	if r.Open {
		status = "open"
	}
	v := riderhttp.ParkingSession{ID: r.ID, Subject: r.Subject, LotID: r.Lot, LotName: r.LotName, Vehicle: string(r.Class),
		Plate: r.Plate, EntryAt: r.EntryAt, ExitAt: r.ExitAt, Status: status, Fee: r.Fee, Refunded: r.Refunded,
		Charged: r.Paid(), TariffRule: r.Rule}
	if r.Open {
		v.Fee = decimal.Zero
	}
	if r.Quote != nil {
		if v.TariffRule == "" {
			v.TariffRule = r.Quote.Tariff
		}
		for _, st := range r.Quote.Steps {
			v.Explanation = append(v.Explanation, riderhttp.ParkingStep{Rule: st.Rule, VI: st.VI, EN: st.EN, AmountVND: money.Round(st.Amount).IntPart()})
		}
	}
	if strings.HasPrefix(r.Rule, "override:") {
		v.Explanation = append(v.Explanation, riderhttp.ParkingStep{Rule: r.Rule,
			VI: "Nhân viên bãi xe mở barie; phí thu: " + money.Format(r.Fee),
			EN: "A lot attendant opened the barrier; fee charged: " + money.Format(r.Fee)})
	}
	return v
}
