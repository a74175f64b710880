// Package accounthttp is the HTTP API of rider accounts (link, balance,
// top-up) and the service's health and metrics, on fiber with JWT roles.
// Every error is an RFC 7807 problem that names what the caller can fix and
// nothing of the internals.
package accounthttp

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/authjwt"
)

// Accounts is what the API needs from the settlement store.
type Accounts interface {
	OpenRiderAccount(ctx context.Context, subject string) (ledger.Account, error)
	Account(ctx context.Context, id ledger.AccountID) (ledger.Account, error)
	Post(ctx context.Context, t ledger.Transaction) error
}

// Config of the API.
type Config struct {
	Accounts Accounts
	Auth     *authjwt.Issuer
	// Provider names the payment provider top-ups come from ("sim" in development).
	Provider string
	// Metrics writes the Prometheus text exposition.
	Metrics func(b *strings.Builder)
	// MetricsToken, when set, is the bearer token /metrics asks for
	// (authjwt.ScrapeToken); empty leaves it open.
	MetricsToken string
	// Ready reports whether the service can take traffic.
	Ready func(ctx context.Context) error
	Log   *slog.Logger
	// Routes adds other APIs' routes under /v1, behind the same JWT check.
	Routes []func(v1 fiber.Router)
	// Public adds routes outside /v1 with no token check (static pages
	// whose scripts call /v1 with the rider's token).
	Public []func(app fiber.Router)
	// Passes sells passes when set: the fare data prices them, the store
	// records them with their payment.
	Passes    PassCatalogue
	PassStore PassStore
	Now       func() time.Time
	// Audit records staff access to riders' personal data (audit.go); nil
	// refuses every such access (503): nothing is read that is not audited.
	Audit Auditor
	// AuditLog, when set, serves GET /v1/audit to admins.
	AuditLog AuditReader
	// Erasure, when its Store is set, serves erasure on request (erasure.go):
	// POST /v1/me/erasure and POST /v1/accounts/:subject/erasure.
	Erasure Erasure
}

// PassCatalogue prices passes (*fare.Set).
type PassCatalogue interface {
	NewPass(productID, category string, start time.Time) (fare.Pass, error)
	Network(id string) (fare.Network, bool)
}

// PassStore records a bought pass and its payment in one transaction.
type PassStore interface {
	BuyPass(ctx context.Context, subject string, p fare.Pass, pay ledger.Transaction) (int64, error)
}

// Top-up bounds, whole dong.
const (
	MinTopUp = 10_000
	MaxTopUp = 10_000_000
)

var subjectRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// New builds the fiber app.
func New(cfg Config) *fiber.App {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Provider == "" {
		cfg.Provider = "sim"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	app := fiber.New(fiber.Config{
		BodyLimit:             64 << 10,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		DisableStartupMessage: true,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			var fe *fiber.Error
			if errors.As(err, &fe) {
				return authjwt.Problem(c, fe.Code, "http-error", fe.Message)
			}
			cfg.Log.Error("http handler failed", "path", c.Path(), "err", err)
			return authjwt.Problem(c, fiber.StatusInternalServerError, "internal", "Something went wrong on our side.")
		},
	})
	h := &handlers{cfg: cfg}
	app.Get("/healthz", h.health)
	app.Get("/metrics", authjwt.ScrapeToken(cfg.MetricsToken), h.metrics)
	for _, r := range cfg.Public {
		r(app)
	}
	v1 := app.Group("/v1", cfg.Auth.Middleware())
	if cfg.Audit != nil {
		v1.Use(UseAuditor(cfg.Audit, cfg.Log))
	}
	if cfg.AuditLog != nil {
		v1.Get("/audit", h.auditLog)
	}
	v1.Post("/accounts", h.open)
	v1.Get("/accounts/:subject", h.get)
	v1.Post("/accounts/:subject/topups", h.topUp)
	if cfg.Erasure.Store != nil {
		v1.Post("/me/erasure", h.erase)
		v1.Post("/accounts/:subject/erasure", h.erase)
	}
	if cfg.Passes != nil && cfg.PassStore != nil {
		v1.Post("/accounts/:subject/passes", h.buyPass)
	}
	for _, r := range cfg.Routes {
		r(v1)
	}
	return app
}

type handlers struct{ cfg Config }

func (h *handlers) health(c *fiber.Ctx) error {
	if h.cfg.Ready != nil {
		if err := h.cfg.Ready(c.UserContext()); err != nil {
			return authjwt.Problem(c, fiber.StatusServiceUnavailable, "not-ready", "The service is not ready.")
		}
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

func (h *handlers) metrics(c *fiber.Ctx) error {
	var b strings.Builder
	if h.cfg.Metrics != nil {
		h.cfg.Metrics(&b)
	}
	c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4")
	return c.SendString(b.String())
}

// AccountJSON is an account as the API shows it.
type AccountJSON struct {
	Subject     string `json:"subject"`
	Status      string `json:"status"`
	BalanceVND  int64  `json:"balance_vnd"`
	BalanceText string `json:"balance_text"`
}

func show(a ledger.Account) AccountJSON {
	return AccountJSON{Subject: a.Subject, Status: a.Status, BalanceVND: money.Round(a.Balance).IntPart(), BalanceText: money.Format(a.Balance)}
}

// mayRead: an admin reads any account (audited, with a purpose), a rider
// only its own. Operators do not read riders' balances: they reach a rider
// only through a journey, parking session or dispute on their own lines and
// lots.
func mayRead(cl authjwt.Claims, subject string) bool {
	return cl.Role == authjwt.RoleAdmin || (cl.Role == authjwt.RoleRider && cl.Subject == subject)
}

func (h *handlers) open(c *fiber.Ctx) error {
	var req struct {
		Subject string `json:"subject"`
	}
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", "The body must be JSON: {\"subject\": \"...\"}.")
	}
	if !subjectRE.MatchString(req.Subject) {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-subject", "subject must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'.")
	}
	cl := authjwt.Caller(c)
	if !(cl.Role == authjwt.RoleAdmin || (cl.Role == authjwt.RoleRider && cl.Subject == req.Subject)) {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "You may not link this account.")
	}
	a, err := h.cfg.Accounts.OpenRiderAccount(c.UserContext(), req.Subject)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(show(a))
}

func (h *handlers) get(c *fiber.Ctx) error {
	subject := c.Params("subject")
	if !subjectRE.MatchString(subject) {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-subject", "subject must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'.")
	}
	if !mayRead(authjwt.Caller(c), subject) {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "You may not read this account.")
	}
	if ok, err := Audited(c, Access{Action: "account.read", Rider: subject}); !ok {
		return err
	}
	a, err := h.cfg.Accounts.Account(c.UserContext(), ledger.Rider(subject))
	if errors.Is(err, ledger.ErrNoAccount) {
		return authjwt.Problem(c, fiber.StatusNotFound, "no-account", "No vnpass account is linked to this subject.")
	}
	if err != nil {
		return err
	}
	return c.JSON(show(a))
}

func (h *handlers) topUp(c *fiber.Ctx) error {
	subject := c.Params("subject")
	if !subjectRE.MatchString(subject) {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-subject", "subject must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'.")
	}
	if authjwt.Caller(c).Role != authjwt.RoleAdmin {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only the payment provider's settlement may top up.")
	}
	var req struct {
		AmountVND      int64  `json:"amount_vnd"`
		IdempotencyKey string `json:"idempotency_key"`
	}
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", "The body must be JSON: {\"amount_vnd\": 100000, \"idempotency_key\": \"...\"}.")
	}
	if req.AmountVND < MinTopUp || req.AmountVND > MaxTopUp {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-amount", "amount_vnd must be between 10.000 ₫ and 10.000.000 ₫.")
	}
	if req.IdempotencyKey == "" || len(req.IdempotencyKey) > 100 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-idempotency-key", "idempotency_key must be 1-100 characters.")
	}
	ctx := c.UserContext()
	if _, err := h.cfg.Accounts.Account(ctx, ledger.Rider(subject)); errors.Is(err, ledger.ErrNoAccount) {
		return authjwt.Problem(c, fiber.StatusNotFound, "no-account", "No vnpass account is linked to this subject.")
	} else if err != nil {
		return err
	}
	tx, err := ledger.Transfer("topup:"+subject+":"+req.IdempotencyKey, "topup", "top-up via "+h.cfg.Provider,
		ledger.ProviderSettlement(h.cfg.Provider), ledger.Rider(subject), money.Dong(req.AmountVND))
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if err := h.cfg.Accounts.Post(ctx, tx); errors.Is(err, ledger.ErrDuplicate) {
		status = fiber.StatusOK // the same request again: nothing moved twice
	} else if errors.Is(err, ledger.ErrKeyConflict) {
		return authjwt.Problem(c, fiber.StatusConflict, "idempotency-key-reused", "This idempotency_key was used for a different top-up.")
	} else if err != nil {
		return err
	}
	a, err := h.cfg.Accounts.Account(ctx, ledger.Rider(subject))
	if err != nil {
		return err
	}
	return c.Status(status).JSON(show(a))
}

// PassJSON is a pass as the API shows it.
type PassJSON struct {
	ID         int64  `json:"id"`
	ProductID  string `json:"product_id"`
	NetworkID  string `json:"network_id"`
	Category   string `json:"category"`
	PriceVND   int64  `json:"price_vnd"`
	PriceText  string `json:"price_text"`
	PriceRule  string `json:"price_rule"`
	ValidFrom  string `json:"valid_from"`  // RFC 3339, Asia/Ho_Chi_Minh
	ValidUntil string `json:"valid_until"` // exclusive
}

// buyPass sells a day, 3-day or month pass paid from the rider's balance.
// A rider buys for itself at the default (adult) price; concession passes
// (students, industrial-zone workers) are issued by an admin who has seen
// the proof, until VNeID carries those attributes.
func (h *handlers) buyPass(c *fiber.Ctx) error {
	subject := c.Params("subject")
	if !subjectRE.MatchString(subject) {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-subject", "subject must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'.")
	}
	cl := authjwt.Caller(c)
	if !(cl.Role == authjwt.RoleAdmin || (cl.Role == authjwt.RoleRider && cl.Subject == subject)) {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "You may not buy passes for this account.")
	}
	var req struct {
		ProductID      string `json:"product_id"`
		Category       string `json:"category"`
		Start          string `json:"start"`
		IdempotencyKey string `json:"idempotency_key"`
	}
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", "The body must be JSON: {\"product_id\": \"hn2a-month\", \"idempotency_key\": \"...\"}.")
	}
	if req.IdempotencyKey == "" || len(req.IdempotencyKey) > 100 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-idempotency-key", "idempotency_key must be 1-100 characters.")
	}
	if req.Category != "" && cl.Role != authjwt.RoleAdmin {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Concession passes are issued at a service counter.")
	}
	start := h.cfg.Now()
	if req.Start != "" {
		t, err := time.Parse(time.RFC3339, req.Start)
		if err != nil || t.Before(start.Add(-time.Minute)) || t.After(start.AddDate(0, 2, 0)) {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-start", "start must be an RFC 3339 time from now to two months ahead.")
		}
		start = t
	}
	pass, err := h.cfg.Passes.NewPass(req.ProductID, req.Category, start)
	if err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-product", "No such pass for this rider category: "+req.ProductID+".")
	}
	nw, _ := h.cfg.Passes.Network(pass.NetworkID)
	pay := ledger.Transaction{Key: "pass:" + subject + ":" + req.IdempotencyKey}
	if pass.Amount.IsPositive() {
		if pay, err = ledger.Transfer(pay.Key, "pass", pass.ProductID,
			ledger.Rider(subject), ledger.OperatorRevenue(nw.OperatorID), pass.Amount); err != nil {
			return err
		}
	}
	id, err := h.cfg.PassStore.BuyPass(c.UserContext(), subject, pass, pay)
	status := fiber.StatusCreated
	switch {
	case errors.Is(err, ledger.ErrDuplicate):
		status = fiber.StatusOK
	case errors.Is(err, ledger.ErrKeyConflict):
		return authjwt.Problem(c, fiber.StatusConflict, "idempotency-key-reused", "This idempotency_key was used for a different pass.")
	case errors.Is(err, ledger.ErrNoAccount):
		return authjwt.Problem(c, fiber.StatusNotFound, "no-account", "No vnpass account is linked to this subject.")
	case errors.Is(err, ledger.ErrInsufficientFunds):
		return authjwt.Problem(c, fiber.StatusConflict, "insufficient-balance", "The balance does not cover "+money.Format(pass.Amount)+"; please top up.")
	case err != nil:
		return err
	}
	return c.Status(status).JSON(PassJSON{
		ID: id, ProductID: pass.ProductID, NetworkID: pass.NetworkID, Category: pass.Category,
		PriceVND: pass.Amount.IntPart(), PriceText: money.Format(pass.Amount), PriceRule: pass.RuleID,
		ValidFrom: pass.ValidFrom.In(fare.Zone).Format(time.RFC3339), ValidUntil: pass.ValidUntil.In(fare.Zone).Format(time.RFC3339),
	})
}
