package partnerhttp

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/services/partnerpg"
	"github.com/vnpass/vnpass/services/settlepg"
)

// Metro passes partners sold (scope passes).
//
// A partner that sold a rider a day, 3-day or month pass binds it to the
// rider: POST /riders/{rider_ref}/passes. The fare data prices and dates
// it (fare.Set.NewPass, as the rider's own purchase is), but the rider paid
// the partner: vnpass records it with amount 0, no ledger movement, source
// partner, the partner's external id and the list price, and admission
// honours it like any pass (the exit gate says "Travelling on your pass").
// The partner lists the passes it bound for the rider (GET) and may revoke
// one (DELETE .../passes/{pass_id}): from then on it covers no journey;
// journeys already priced keep their price.

// PassStore binds, lists and revokes the passes partners sold.
type PassStore interface {
	// BindPass records the pass under the rider's consent for passes in
	// force (partner.ErrNoConsent otherwise); true when created, false
	// for the same idempotency key again.
	BindPass(ctx context.Context, partnerID, riderRef string, g settlepg.PassGrant) (settlepg.PartnerPass, partner.Consent, bool, error)
	// PartnerPasses lists what the partner bound to the rider.
	PartnerPasses(ctx context.Context, partnerID, subject string) ([]settlepg.PartnerPass, error)
	// RevokePass ends one of the partner's passes of the rider behind the
	// handle; partner.ErrNotFound for any other.
	RevokePass(ctx context.Context, partnerID, riderRef string, id int64) (settlepg.PartnerPass, partner.Consent, error)
}

// PassCatalogue prices passes from the fare data (fare.Set).
type PassCatalogue interface {
	NewPass(productID, category string, start time.Time) (fare.Pass, error)
}

// SettlePasses keeps partners' passes in settlement's passes table, under
// the consent held by the partner store, in one transaction.
type SettlePasses struct {
	Partners *partnerpg.Store
	Settle   *settlepg.Store
	Now      func() time.Time
}

func (s SettlePasses) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// BindPass implements PassStore.
func (s SettlePasses) BindPass(ctx context.Context, partnerID, riderRef string, g settlepg.PassGrant) (settlepg.PartnerPass, partner.Consent, bool, error) {
	var out settlepg.PartnerPass
	var created bool
	cn, err := s.Partners.WithConsent(ctx, partnerID, riderRef, partner.ScopePasses, func(tx pgx.Tx, c partner.Consent) error {
		g.Partner, g.Subject = partnerID, c.Subject
		var err error
		out, created, err = settlepg.GrantPass(ctx, tx, g, s.now())
		return err
	})
	return out, cn, created, err
}

// PartnerPasses implements PassStore.
func (s SettlePasses) PartnerPasses(ctx context.Context, partnerID, subject string) ([]settlepg.PartnerPass, error) {
	return s.Settle.PartnerPasses(ctx, partnerID, subject)
}

// RevokePass implements PassStore.
func (s SettlePasses) RevokePass(ctx context.Context, partnerID, riderRef string, id int64) (settlepg.PartnerPass, partner.Consent, error) {
	var out settlepg.PartnerPass
	cn, err := s.Partners.WithRider(ctx, partnerID, riderRef, func(tx pgx.Tx, c partner.Consent) error {
		var err error
		out, err = settlepg.RevokePass(ctx, tx, partnerID, c.Subject, id, s.now)
		return err
	})
	if errors.Is(err, settlepg.ErrPassNotFound) {
		err = partner.ErrNotFound
	}
	return out, cn, err
}

// PassRequest binds a pass the partner sold.
type PassRequest struct {
	ProductID string `json:"product_id"`         // a pass of the fare data, e.g. hn2a-day
	Category  string `json:"category,omitempty"` // rider category it was sold to; "" the default (adult)
	// Start is when validity begins (RFC 3339), from now to two months
	// ahead; empty: now. A day pass is valid to the end of that local day.
	Start          string `json:"start,omitempty"`
	ExternalID     string `json:"external_id"`     // the partner's own id of the sale, unique per partner
	IdempotencyKey string `json:"idempotency_key"` // the same key again returns the pass bound then
}

// PassJSON is a pass as the partner that bound it sees it.
type PassJSON struct {
	PassID        int64  `json:"pass_id"`
	ExternalID    string `json:"external_id"`
	RiderRef      string `json:"rider_ref"`
	ProductID     string `json:"product_id"`
	NetworkID     string `json:"network_id"`
	Category      string `json:"category"`
	ListPriceVND  int64  `json:"list_price_vnd"`
	ListPriceText string `json:"list_price_text"`
	ChargedVND    int64  `json:"charged_vnd"` // what vnpass took from the rider: 0, the partner was paid
	PriceRule     string `json:"price_rule"`
	ValidFrom     string `json:"valid_from"`
	ValidUntil    string `json:"valid_until"`
	BoundAt       string `json:"bound_at"`
	RevokedAt     string `json:"revoked_at,omitempty"`
	Status        string `json:"status"` // upcoming, active, expired, revoked
}

func (a *API) passJSON(p settlepg.PartnerPass, riderRef string) PassJSON {
	now := a.cfg.Now()
	j := PassJSON{PassID: p.ID, ExternalID: p.ExternalID, RiderRef: riderRef, ProductID: p.Pass.ProductID, NetworkID: p.Pass.NetworkID,
		Category: p.Pass.Category, ListPriceVND: money.Round(p.Pass.Amount).IntPart(), ListPriceText: money.Format(p.Pass.Amount),
		PriceRule: p.Pass.RuleID, ValidFrom: p.Pass.ValidFrom.In(fare.Zone).Format(time.RFC3339),
		ValidUntil: p.Pass.ValidUntil.In(fare.Zone).Format(time.RFC3339), BoundAt: ts(p.BoundAt)}
	switch {
	case !p.RevokedAt.IsZero():
		j.Status, j.RevokedAt = "revoked", p.RevokedAt.UTC().Format(time.RFC3339Nano)
	case now.Before(p.Pass.ValidFrom):
		j.Status = "upcoming"
	case now.Before(p.Pass.ValidUntil):
		j.Status = "active"
	default:
		j.Status = "expired"
	}
	return j
}

// passesReady answers 503 where passes are not served.
func (a *API) passesReady() bool {
	return a.cfg.Passes != nil && a.cfg.Fares != nil
}

func (a *API) bindPass(c *fiber.Ctx) error {
	if !a.passesReady() {
		return problem(c, fiber.StatusServiceUnavailable, "unavailable", "Passes are not available here.")
	}
	var req PassRequest
	if err := c.BodyParser(&req); err != nil {
		return problem(c, fiber.StatusBadRequest, "invalid", "The body must be a JSON pass.")
	}
	if req.ExternalID == "" || len(req.ExternalID) > 100 {
		return problem(c, fiber.StatusBadRequest, "invalid", "external_id must be 1-100 characters.")
	}
	if req.IdempotencyKey == "" || len(req.IdempotencyKey) > 100 {
		return problem(c, fiber.StatusBadRequest, "invalid", "idempotency_key must be 1-100 characters.")
	}
	now := a.cfg.Now()
	start := now
	if req.Start != "" {
		t, err := time.Parse(time.RFC3339, req.Start)
		if err != nil || t.Before(now.Add(-time.Minute)) || t.After(now.AddDate(0, 2, 0)) {
			return problem(c, fiber.StatusBadRequest, "invalid", "start must be an RFC 3339 time from now to two months ahead.")
		}
		start = t
	}
	pass, err := a.cfg.Fares.NewPass(req.ProductID, req.Category, start)
	if err != nil {
		return problem(c, fiber.StatusBadRequest, "invalid", "No such pass for this rider category: "+req.ProductID+".")
	}
	p := partnerOf(c)
	out, cn, created, err := a.cfg.Passes.BindPass(c.UserContext(), p.ID, c.Params("rider_ref"),
		settlepg.PassGrant{ExternalID: req.ExternalID, IdempotencyKey: req.IdempotencyKey, Pass: pass})
	callOf(c).subject = cn.Subject
	if err != nil {
		return a.passFail(c, err)
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(a.passJSON(out, cn.RiderRef))
}

func (a *API) listPasses(c *fiber.Ctx) error {
	if !a.passesReady() {
		return problem(c, fiber.StatusServiceUnavailable, "unavailable", "Passes are not available here.")
	}
	cn, ok, err := a.consented(c, partner.ScopePasses)
	if !ok {
		return err
	}
	ps, err := a.cfg.Passes.PartnerPasses(c.UserContext(), partnerOf(c).ID, cn.Subject)
	if err != nil {
		return a.fail(c, err)
	}
	out := make([]PassJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, a.passJSON(p, cn.RiderRef))
	}
	return c.JSON(fiber.Map{"rider_ref": cn.RiderRef, "passes": out})
}

// revokePass ends a pass the partner bound to the rider. Like cancelling a
// ticket it is the seller's own business (a refund at its counter) and
// needs no consent in force; a pass id the partner did not bind to that
// rider, an unknown handle or another partner's pass are the same 404.
func (a *API) revokePass(c *fiber.Ctx) error {
	if !a.passesReady() {
		return problem(c, fiber.StatusServiceUnavailable, "unavailable", "Passes are not available here.")
	}
	id, err := strconv.ParseInt(c.Params("pass_id"), 10, 64)
	if err != nil || id <= 0 {
		return a.fail(c, partner.ErrNotFound)
	}
	out, cn, err := a.cfg.Passes.RevokePass(c.UserContext(), partnerOf(c).ID, c.Params("rider_ref"), id)
	callOf(c).subject = cn.Subject
	if err != nil {
		return a.passFail(c, err)
	}
	return c.JSON(a.passJSON(out, cn.RiderRef))
}

// passFail adds the answers of settlement's pass errors to fail's.
func (a *API) passFail(c *fiber.Ctx, err error) error {
	switch {
	case errors.Is(err, settlepg.ErrPassNotFound):
		return a.fail(c, partner.ErrNotFound)
	case errors.Is(err, settlepg.ErrPassExists):
		return problem(c, fiber.StatusConflict, "external-id-used", "This external_id names another pass you bound.")
	case errors.Is(err, ledger.ErrKeyConflict):
		return problem(c, fiber.StatusConflict, "idempotency-key-reused", "This idempotency_key was used for a different pass.")
	case errors.Is(err, ledger.ErrNoAccount):
		return problem(c, fiber.StatusConflict, "no-account", "The rider has no open vnpass account to hold a metro pass; they open one in the app.")
	}
	return a.fail(c, err)
}
