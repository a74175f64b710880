// Package partnerhttp is the partner API (/partner/v1, fiber): transport
// apps registered with the platform bind and cancel the train tickets and
// bind and revoke the metro passes they sold to riders, read the journeys
// and charges riders let them read, and receive webhooks; riders grant and
// withdraw their consent through the endpoints the VNeID app calls. Every
// call is audited; every refusal is an RFC 7807 problem that says what the
// caller can fix and nothing about the rider. The OpenAPI description is
// openapi.json, served at /partner/v1/openapi.json and checked against the
// routes by the tests.
//
// Partners sign their own short-lived tokens (JWT, EdDSA) with the Ed25519
// key whose public half they registered: the platform keeps no secret that
// could sign for a partner, a leaked database or log lets nobody call as
// one, and each call is provably the partner's (see auth.go).
package partnerhttp

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/rail"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/partnerpg"
)

// Prefix is where the partner API is mounted.
const Prefix = "/partner/v1"

// Audience is the aud a partner's token must carry.
const Audience = "vnpass-partner-api"

//go:embed openapi.json
var OpenAPI []byte

// Store is what the API needs from partnerpg.
type Store interface {
	RegisterPartner(ctx context.Context, p partner.Partner) (partner.Partner, error)
	Partner(ctx context.Context, id string) (partner.Partner, error)
	AddPartnerKey(ctx context.Context, k partner.Key) (partner.Key, error)
	RetirePartnerKey(ctx context.Context, partnerID, kid string) (partner.Key, error)
	GrantConsent(ctx context.Context, partnerID, subject string, scopes []partner.Scope, expires time.Time) (partner.Consent, error)
	WithdrawConsent(ctx context.Context, partnerID, subject string) (partner.Consent, error)
	Consents(ctx context.Context, subject string) ([]partner.Consent, error)
	ConsentByRef(ctx context.Context, partnerID, ref string) (partner.Consent, error)
	BindTicket(ctx context.Context, partnerID, riderRef string, t rail.Ticket) (rail.Ticket, bool, error)
	Ticket(ctx context.Context, partnerID, ref string) (rail.Ticket, partner.Consent, error)
	CancelTicket(ctx context.Context, partnerID, ref string) (rail.Ticket, error)
	Audit(ctx context.Context, e partnerpg.AuditEntry) error
	AuditTrail(ctx context.Context, actor, subject string) ([]partnerpg.AuditEntry, error)
}

// Config of the API.
type Config struct {
	Store Store
	// Riders reads riders' journeys and charges (settlepg through
	// SettleRiders); nil: those routes answer 503.
	Riders RiderData
	// Passes keeps the metro passes partners sold (SettlePasses) and Fares
	// prices them (fare.Set); either nil: those routes answer 503.
	Passes PassStore
	Fares  PassCatalogue
	// Auth checks the platform's own tokens: riders (consent endpoints)
	// and admins (partner registration).
	Auth *authjwt.Issuer
	Now  func() time.Time
	Log  *slog.Logger
	// MaxTokenLife is the longest a partner token may be valid for, from
	// its iat to its exp. Default 10 minutes.
	MaxTokenLife time.Duration
}

// API is the partner API.
type API struct {
	cfg   Config
	rates *limiter
}

// New validates cfg.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil || cfg.Auth == nil {
		return nil, errors.New("partnerhttp: store and auth are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxTokenLife <= 0 {
		cfg.MaxTokenLife = 10 * time.Minute
	}
	return &API{cfg: cfg, rates: newLimiter(cfg.Now)}, nil
}

// Mount adds the routes under Prefix.
func (a *API) Mount(app fiber.Router) {
	g := app.Group(Prefix, a.audit)
	g.Get("/openapi.json", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(OpenAPI)
	})
	g.Post("/admin/partners", a.platform(authjwt.RoleAdmin), a.register)
	g.Post("/admin/partners/:partner_id/keys", a.platform(authjwt.RoleAdmin), a.addKey)
	g.Delete("/admin/partners/:partner_id/keys/:kid", a.platform(authjwt.RoleAdmin), a.retireKey)
	g.Get("/me/consents", a.platform(authjwt.RoleRider), a.listConsents)
	g.Put("/me/consents/:partner_id", a.platform(authjwt.RoleRider), a.grant)
	g.Delete("/me/consents/:partner_id", a.platform(authjwt.RoleRider), a.withdraw)
	g.Get("/me/access", a.platform(authjwt.RoleRider), a.access)
	g.Put("/tickets/:ticket_id", a.partner(partner.ScopeTickets), a.bindTicket)
	g.Get("/tickets/:ticket_id", a.partner(partner.ScopeTickets), a.getTicket)
	g.Delete("/tickets/:ticket_id", a.partner(partner.ScopeTickets), a.cancelTicket)
	g.Get("/riders/:rider_ref/journeys", a.partner(partner.ScopeJourneys), a.journeys)
	g.Get("/riders/:rider_ref/charges", a.partner(partner.ScopeCharges), a.charges)
	g.Post("/riders/:rider_ref/passes", a.partner(partner.ScopePasses), a.bindPass)
	g.Get("/riders/:rider_ref/passes", a.partner(partner.ScopePasses), a.listPasses)
	g.Delete("/riders/:rider_ref/passes/:pass_id", a.partner(partner.ScopePasses), a.revokePass)
}

// call is what the audit records of a request, filled in as it goes.
type call struct {
	actorKind, actor, subject, outcome string
}

const callKey = "partnerhttp.call"

func callOf(c *fiber.Ctx) *call {
	cl, _ := c.Locals(callKey).(*call)
	if cl == nil {
		cl = &call{}
	}
	return cl
}

// audit records every call, refused or not, after it is answered. A call
// that cannot be audited is not answered with its data: it fails.
func (a *API) audit(c *fiber.Ctx) error {
	cl := &call{actorKind: "anonymous"}
	c.Locals(callKey, cl)
	err := c.Next()
	if err != nil {
		// Let the app's error handler write the answer, then audit it.
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			return herr
		}
	}
	status := c.Response().StatusCode()
	outcome := cl.outcome
	if outcome == "" {
		outcome = "ok"
		if status >= 400 {
			outcome = "error"
		}
	}
	e := partnerpg.AuditEntry{At: a.cfg.Now(), ActorKind: cl.actorKind, Actor: cl.actor, Method: c.Method(),
		Route: c.Route().Path, Subject: cl.subject, Status: status, Outcome: outcome}
	if aerr := a.cfg.Store.Audit(c.UserContext(), e); aerr != nil {
		a.cfg.Log.Error("partner API call not audited", "err", aerr, "route", e.Route)
		c.Response().ResetBody()
		return authjwt.Problem(c, fiber.StatusServiceUnavailable, "unavailable", "The service is not available; try again later.")
	}
	return nil
}

// problem answers a refusal, noting its kind for the audit.
func problem(c *fiber.Ctx, status int, kind, detail string) error {
	callOf(c).outcome = kind
	return authjwt.Problem(c, status, kind, detail)
}

// fail maps the domain's errors to their answers: the one table.
func (a *API) fail(c *fiber.Ctx, err error) error {
	switch {
	case errors.Is(err, partner.ErrNoConsent):
		return problem(c, fiber.StatusForbidden, "no-consent", "The rider has not given this partner consent for this, or it has ended.")
	case errors.Is(err, partner.ErrNotFound):
		return problem(c, fiber.StatusNotFound, "not-found", "No such resource for this partner.")
	case errors.Is(err, partner.ErrInvalid), errors.Is(err, rail.ErrInvalidTicket):
		return problem(c, fiber.StatusBadRequest, "invalid", err.Error())
	case errors.Is(err, partner.ErrKeyExists):
		return problem(c, fiber.StatusConflict, "key-exists",
			"Đối tác đã có khóa với kid hoặc khóa công khai này (kể cả khóa đã thu hồi); hãy dùng cặp khóa và kid mới. / The partner has a key of this kid or this public key already (retired ones included); use a new key pair and kid.")
	case errors.Is(err, partner.ErrTooManyKeys):
		return problem(c, fiber.StatusConflict, "too-many-keys",
			"Đối tác đã có "+strconv.Itoa(partner.MaxActiveKeys)+" khóa đang hoạt động; hãy thu hồi một khóa trước. / The partner has "+strconv.Itoa(partner.MaxActiveKeys)+" active keys already; retire one first.")
	case errors.Is(err, partner.ErrLastKey):
		return problem(c, fiber.StatusConflict, "last-key",
			"Không thể thu hồi khóa đang hoạt động cuối cùng; hãy đăng ký khóa mới trước, hoặc tạm ngừng đối tác. / The last active key cannot be retired; register a new key first, or deactivate the partner.")
	case errors.Is(err, partner.ErrConflict):
		return problem(c, fiber.StatusConflict, "conflict", "The resource exists already.")
	case errors.Is(err, rail.ErrTicketUsed):
		return problem(c, fiber.StatusConflict, "ticket-used", "The ticket has been used and can no longer be changed or cancelled.")
	case errors.Is(err, rail.ErrTicketCancelled):
		return problem(c, fiber.StatusConflict, "ticket-cancelled", "The ticket is cancelled; bind a new ticket id.")
	}
	a.cfg.Log.Error("partner API call failed", "route", c.Route().Path, "err", err)
	return problem(c, fiber.StatusInternalServerError, "internal", "Something went wrong on our side.")
}
