package partnerhttp

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/partner"
	"github.com/vnpass/vnpass/rail"
)

// RegisterRequest registers a partner (platform admins).
type RegisterRequest struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	PublicKey  string   `json:"public_key"` // base64url (no padding) of the 32-byte Ed25519 public key
	Scopes     []string `json:"scopes"`
	WebhookURL string   `json:"webhook_url,omitempty"`
	RatePerMin int      `json:"rate_per_min,omitempty"`
}

// RegisterResponse returns the webhook signing secret, once.
type RegisterResponse struct {
	ID            string   `json:"id"`
	Scopes        []string `json:"scopes"`
	WebhookSecret string   `json:"webhook_secret"` // base64url (no padding)
	RatePerMin    int      `json:"rate_per_min"`
}

func (a *API) register(c *fiber.Ctx) error {
	var req RegisterRequest
	if err := c.BodyParser(&req); err != nil {
		return problem(c, fiber.StatusBadRequest, "invalid", "The body must be a JSON registration.")
	}
	key, err := base64.RawURLEncoding.DecodeString(req.PublicKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return problem(c, fiber.StatusBadRequest, "invalid", "public_key must be the base64url Ed25519 public key (32 bytes).")
	}
	if u, err := url.Parse(req.WebhookURL); req.WebhookURL != "" && (err != nil || len(req.WebhookURL) > 2000 || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		return problem(c, fiber.StatusBadRequest, "invalid", "webhook_url must be an http(s) URL.")
	}
	if req.RatePerMin == 0 {
		req.RatePerMin = 600
	}
	p := partner.Partner{ID: req.ID, Name: req.Name, Kind: partner.Kind(req.Kind), PublicKey: key,
		WebhookURL: req.WebhookURL, RatePerMin: req.RatePerMin}
	for _, s := range req.Scopes {
		p.Scopes = append(p.Scopes, partner.Scope(s))
	}
	p, err = a.cfg.Store.RegisterPartner(c.UserContext(), p)
	if err != nil {
		return a.fail(c, err)
	}
	return c.Status(fiber.StatusCreated).JSON(RegisterResponse{ID: p.ID, Scopes: req.Scopes,
		WebhookSecret: base64.RawURLEncoding.EncodeToString(p.WebhookSecret), RatePerMin: p.RatePerMin})
}

// ConsentJSON is a consent as the rider's app sees it.
type ConsentJSON struct {
	PartnerID   string   `json:"partner_id"`
	RiderRef    string   `json:"rider_ref"`
	Scopes      []string `json:"scopes"`
	GrantedAt   string   `json:"granted_at"`
	ExpiresAt   string   `json:"expires_at"`
	WithdrawnAt string   `json:"withdrawn_at,omitempty"`
	InForce     bool     `json:"in_force"`
}

func (a *API) consentJSON(cn partner.Consent) ConsentJSON {
	j := ConsentJSON{PartnerID: cn.Partner, RiderRef: cn.RiderRef, GrantedAt: ts(cn.GrantedAt), ExpiresAt: ts(cn.ExpiresAt)}
	for _, s := range cn.Scopes {
		j.Scopes = append(j.Scopes, string(s))
	}
	if !cn.WithdrawnAt.IsZero() {
		j.WithdrawnAt = ts(cn.WithdrawnAt)
	}
	j.InForce = cn.WithdrawnAt.IsZero() && a.cfg.Now().Before(cn.ExpiresAt)
	return j
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (a *API) listConsents(c *fiber.Ctx) error {
	cs, err := a.cfg.Store.Consents(c.UserContext(), platformOf(c).Subject)
	if err != nil {
		return a.fail(c, err)
	}
	out := make([]ConsentJSON, 0, len(cs))
	for _, cn := range cs {
		out = append(out, a.consentJSON(cn))
	}
	return c.JSON(fiber.Map{"consents": out})
}

// GrantRequest is the rider's consent to a partner.
type GrantRequest struct {
	Scopes    []string `json:"scopes"`
	ExpiresAt string   `json:"expires_at"` // RFC 3339, within a year
}

func (a *API) grant(c *fiber.Ctx) error {
	var req GrantRequest
	if err := c.BodyParser(&req); err != nil {
		return problem(c, fiber.StatusBadRequest, "invalid", "The body must be a JSON consent.")
	}
	exp, err := time.Parse(time.RFC3339, req.ExpiresAt)
	if err != nil {
		return problem(c, fiber.StatusBadRequest, "invalid", "expires_at must be an RFC 3339 time.")
	}
	scopes := make([]partner.Scope, len(req.Scopes))
	for i, s := range req.Scopes {
		scopes[i] = partner.Scope(s)
	}
	cn, err := a.cfg.Store.GrantConsent(c.UserContext(), c.Params("partner_id"), platformOf(c).Subject, scopes, exp)
	if err != nil {
		return a.fail(c, err)
	}
	return c.JSON(a.consentJSON(cn))
}

func (a *API) withdraw(c *fiber.Ctx) error {
	cn, err := a.cfg.Store.WithdrawConsent(c.UserContext(), c.Params("partner_id"), platformOf(c).Subject)
	if err != nil {
		return a.fail(c, err)
	}
	return c.JSON(a.consentJSON(cn))
}

// TicketRequest binds or changes a train ticket.
type TicketRequest struct {
	RiderRef    string `json:"rider_ref"`
	Train       string `json:"train"`
	Departure   string `json:"departure"` // RFC 3339
	Coach       string `json:"coach"`
	Seat        string `json:"seat"`
	Origin      string `json:"origin"`
	Destination string `json:"destination"`
}

// TicketJSON is a ticket as its issuer sees it.
type TicketJSON struct {
	TicketID    string `json:"ticket_id"`
	RiderRef    string `json:"rider_ref,omitempty"`
	Train       string `json:"train"`
	Departure   string `json:"departure"`
	Coach       string `json:"coach"`
	Seat        string `json:"seat"`
	Origin      string `json:"origin"`
	Destination string `json:"destination"`
	Status      string `json:"status"`
	UsedAt      string `json:"used_at,omitempty"`
}

func ticketJSON(t rail.Ticket, riderRef string) TicketJSON {
	j := TicketJSON{TicketID: t.Ref, RiderRef: riderRef, Train: t.Train, Departure: ts(t.Departure), Coach: t.Coach, Seat: t.Seat,
		Origin: t.Origin, Destination: t.Destination, Status: string(t.Status)}
	if !t.UsedAt.IsZero() {
		j.UsedAt = t.UsedAt.UTC().Format(time.RFC3339Nano)
	}
	return j
}

func (a *API) bindTicket(c *fiber.Ctx) error {
	var req TicketRequest
	if err := c.BodyParser(&req); err != nil {
		return problem(c, fiber.StatusBadRequest, "invalid", "The body must be a JSON ticket.")
	}
	dep, err := time.Parse(time.RFC3339, req.Departure)
	if err != nil {
		return problem(c, fiber.StatusBadRequest, "invalid", "departure must be an RFC 3339 time.")
	}
	p := partnerOf(c)
	t := rail.Ticket{Ref: c.Params("ticket_id"), Train: req.Train, Departure: dep, Coach: req.Coach, Seat: req.Seat,
		Origin: req.Origin, Destination: req.Destination}
	out, created, err := a.cfg.Store.BindTicket(c.UserContext(), p.ID, req.RiderRef, t)
	if err != nil {
		return a.fail(c, err)
	}
	callOf(c).subject = out.Subject
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(ticketJSON(out, req.RiderRef))
}

func (a *API) getTicket(c *fiber.Ctx) error {
	p := partnerOf(c)
	t, cn, err := a.cfg.Store.Ticket(c.UserContext(), p.ID, c.Params("ticket_id"))
	if err != nil {
		return a.fail(c, err)
	}
	callOf(c).subject = t.Subject
	if !cn.Allows(partner.ScopeTickets, a.cfg.Now()) {
		return a.fail(c, partner.ErrNoConsent)
	}
	return c.JSON(ticketJSON(t, cn.RiderRef))
}

func (a *API) cancelTicket(c *fiber.Ctx) error {
	p := partnerOf(c)
	t, err := a.cfg.Store.CancelTicket(c.UserContext(), p.ID, c.Params("ticket_id"))
	if err != nil {
		return a.fail(c, err)
	}
	callOf(c).subject = t.Subject
	// No rider handle: cancelling needs no consent, so it tells nothing
	// about the rider.
	return c.JSON(ticketJSON(t, ""))
}

// consented resolves the rider behind a partner's handle when the rider's
// consent for scope is in force; the same refusal otherwise, whatever the
// reason (unknown handle, withdrawn, expired, another scope).
func (a *API) consented(c *fiber.Ctx, scope partner.Scope) (partner.Consent, bool, error) {
	cn, err := a.cfg.Store.ConsentByRef(c.UserContext(), partnerOf(c).ID, c.Params("rider_ref"))
	if err == nil && cn.Allows(scope, a.cfg.Now()) {
		callOf(c).subject = cn.Subject
		return cn, true, nil
	}
	if err == nil {
		callOf(c).subject = cn.Subject
	}
	if err == nil || isNotFound(err) {
		return partner.Consent{}, false, a.fail(c, partner.ErrNoConsent)
	}
	return partner.Consent{}, false, a.fail(c, err)
}

func (a *API) journeys(c *fiber.Ctx) error {
	cn, ok, err := a.consented(c, partner.ScopeJourneys)
	if !ok {
		return err
	}
	if a.cfg.Riders == nil {
		return problem(c, fiber.StatusServiceUnavailable, "unavailable", "Journeys are not available here.")
	}
	js, err := a.cfg.Riders.Journeys(c.UserContext(), cn.Subject, cn.GrantedAt)
	if err != nil {
		return a.fail(c, err)
	}
	if js == nil {
		js = []Journey{}
	}
	return c.JSON(fiber.Map{"rider_ref": cn.RiderRef, "since": ts(cn.GrantedAt), "journeys": js})
}

func (a *API) charges(c *fiber.Ctx) error {
	cn, ok, err := a.consented(c, partner.ScopeCharges)
	if !ok {
		return err
	}
	if a.cfg.Riders == nil {
		return problem(c, fiber.StatusServiceUnavailable, "unavailable", "Charges are not available here.")
	}
	cs, err := a.cfg.Riders.Charges(c.UserContext(), cn.Subject, cn.GrantedAt)
	if err != nil {
		return a.fail(c, err)
	}
	if cs == nil {
		cs = []Charge{}
	}
	return c.JSON(fiber.Map{"rider_ref": cn.RiderRef, "since": ts(cn.GrantedAt), "charges": cs})
}

// AccessJSON is one partner call about the rider, as the rider sees it.
type AccessJSON struct {
	At      string `json:"at"`
	Partner string `json:"partner_id"`
	Method  string `json:"method"`
	Route   string `json:"route"`
	Status  int    `json:"status"`
	Outcome string `json:"outcome"`
}

// access lists the partners' calls about the rider, refused ones included:
// who asked for what, and what they got.
func (a *API) access(c *fiber.Ctx) error {
	es, err := a.cfg.Store.AuditTrail(c.UserContext(), "", platformOf(c).Subject)
	if err != nil {
		return a.fail(c, err)
	}
	out := []AccessJSON{}
	for _, e := range es {
		if e.ActorKind != "partner" {
			continue
		}
		out = append(out, AccessJSON{At: e.At.UTC().Format(time.RFC3339), Partner: e.Actor, Method: e.Method, Route: e.Route, Status: e.Status, Outcome: e.Outcome})
	}
	return c.JSON(fiber.Map{"access": out})
}
