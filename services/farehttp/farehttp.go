// Package farehttp is the HTTP API of fare explanations, mounted under /v1
// of the accounts API (behind its JWT check): what a trip would cost
// between any two stations at a time, and why a rider paid what they paid
// for a journey. Answers come from package explain; errors are RFC 7807
// problems naming the parameter at fault.
package farehttp

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/accounthttp"
	"github.com/vnpass/vnpass/services/authjwt"
)

// Config of the routes.
type Config struct {
	Fares    explain.Fares    // *fare.Set
	Journeys explain.Journeys // *settlepg.Store
	Now      func() time.Time // the default time of a quote; time.Now if nil
	// Refunds, when set, lets operators refund journeys.
	Refunds Refunds
}

// Refunds posts operator refunds (*settlepg.Store).
type Refunds interface {
	RefundJourney(ctx context.Context, journeyID int64, amount decimal.Decimal, reason, by, key string) (int64, error)
}

// Routes returns the routes to mount under /v1 (accounthttp.Config.Routes):
//
//	GET /v1/fares/quote?from=<stop_id>&to=<stop_id>[&at=<RFC 3339>][&category=<rider_category_id>]
//	GET /v1/journeys/:id/explanation
//	POST /v1/journeys/:id/refunds {"amount_vnd", "reason", "idempotency_key"} (admins and operators)
//
// Any authenticated caller may ask for a quote. Admins may read the
// explanation of any journey, an operator (its token naming its operator)
// of its own lines' journeys, a rider only of its own: any other journey is
// "not found", so that ids cannot be probed. Staff reads and refunds are
// audited (accounthttp.Audited): a read needs X-Access-Reason.
func Routes(cfg Config) func(v1 fiber.Router) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handlers{cfg: cfg}
	return func(v1 fiber.Router) {
		v1.Get("/fares/quote", h.quote)
		v1.Get("/journeys/:id/explanation", h.explanation)
		if cfg.Refunds != nil {
			v1.Post("/journeys/:id/refunds", h.refund)
		}
	}
}

type handlers struct{ cfg Config }

func (h *handlers) quote(c *fiber.Ctx) error {
	from, to, category := c.Query("from"), c.Query("to"), c.Query("category")
	if from == "" {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-from", "from must be a stop_id, e.g. hn2a-cat-linh.")
	}
	if to == "" {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-to", "to must be a stop_id, e.g. hn2a-yen-nghia.")
	}
	at := h.cfg.Now()
	if s := c.Query("at"); s != "" {
		// An unescaped "+07:00" in a query string arrives as " 07:00".
		t, err := time.Parse(time.RFC3339, strings.Replace(s, " ", "+", 1))
		if err != nil {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-at", "at must be an RFC 3339 time, e.g. 2026-11-24T07:30:00+07:00.")
		}
		at = t
	}
	p, err := explain.Quote(h.cfg.Fares, from, to, category, at)
	var qe *explain.QueryError
	if errors.As(err, &qe) {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-"+qe.Field, queryDetail(qe, from, to, category))
	}
	if err != nil {
		return err
	}
	return c.JSON(p)
}

// queryDetail says what is wrong with the parameter, in words a caller can
// act on (the stop ids and category come from the request).
func queryDetail(qe *explain.QueryError, from, to, category string) string {
	switch {
	case qe.Field == "from" && errors.Is(qe, fare.ErrUnknownStop):
		return "from: no station has stop_id " + strconv.Quote(from) + "."
	case qe.Field == "to" && errors.Is(qe, fare.ErrUnknownStop):
		return "to: no station has stop_id " + strconv.Quote(to) + "."
	case qe.Field == "category" && errors.Is(qe, fare.ErrUnknownCategory):
		return "category: the fare data has no rider category " + strconv.Quote(category) + "."
	case qe.Field == "category":
		return "category: " + strconv.Quote(category) + " is not priced between these stations."
	default:
		return qe.Field + ": no fare covers a trip from " + strconv.Quote(from) + " to " + strconv.Quote(to) + "."
	}
}

func (h *handlers) explanation(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-id", "id must be a journey id, a positive whole number.")
	}
	ctx := c.UserContext()
	j, err := h.cfg.Journeys.Journey(ctx, id)
	cl := authjwt.Caller(c)
	if cl.Role == authjwt.RoleOperator && cl.Operator == "" {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "An operator's token must name its operator (claim operator).")
	}
	// A rider learns nothing about other riders' journeys, an operator
	// nothing about other operators', not even that they exist.
	mayRead := cl.Role == authjwt.RoleAdmin || (cl.Role == authjwt.RoleOperator && cl.Operator == j.OperatorID) ||
		(cl.Role == authjwt.RoleRider && cl.Subject != "" && cl.Subject == j.Subject)
	if errors.Is(err, explain.ErrNoJourney) || (err == nil && !mayRead) {
		return authjwt.Problem(c, fiber.StatusNotFound, "no-journey", "No journey with this id.")
	}
	if err != nil {
		return err
	}
	if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "journey.read", Rider: j.Subject}); !ok {
		return err
	}
	ps, err := h.cfg.Journeys.FarePostings(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(explain.Journey(h.cfg.Fares, j, ps))
}

// refund: an operator gives money back for a journey (a dispute upheld, a
// gate fault), with a reason, posted from the operator's revenue to the
// rider and shown in the journey's explanation.
func (h *handlers) refund(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-id", "id must be a journey id, a positive whole number.")
	}
	cl := authjwt.Caller(c)
	if cl.Role != authjwt.RoleAdmin && cl.Role != authjwt.RoleOperator {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only an operator may refund a journey.")
	}
	if cl.Role == authjwt.RoleOperator && cl.Operator == "" {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "An operator's token must name its operator (claim operator).")
	}
	// An operator refunds only its own lines' journeys; another's is "not
	// found", whatever the body says.
	j, err := h.cfg.Journeys.Journey(c.UserContext(), id)
	if errors.Is(err, explain.ErrNoJourney) || (err == nil && cl.Role == authjwt.RoleOperator && cl.Operator != j.OperatorID) {
		return authjwt.Problem(c, fiber.StatusNotFound, "no-journey", "No journey with this id.")
	}
	if err != nil {
		return err
	}
	var req struct {
		AmountVND      int64  `json:"amount_vnd"`
		Reason         string `json:"reason"`
		IdempotencyKey string `json:"idempotency_key"`
	}
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", `The body must be JSON: {"amount_vnd": 7000, "reason": "...", "idempotency_key": "..."}.`)
	}
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case req.AmountVND <= 0 || req.AmountVND > 10_000_000:
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-amount", "amount_vnd must be a positive whole number of dong.")
	case len([]rune(req.Reason)) < 3 || len(req.Reason) > 300:
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-reason", "reason must say why, in 3 to 300 characters.")
	case req.IdempotencyKey == "" || len(req.IdempotencyKey) > 100:
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-idempotency-key", "idempotency_key must be 1-100 characters.")
	}
	if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "journey.refund", Rider: j.Subject, Reason: req.Reason}); !ok {
		return err
	}
	amount := money.Dong(req.AmountVND)
	txID, err := h.cfg.Refunds.RefundJourney(c.UserContext(), id, amount, req.Reason, string(cl.Role)+":"+cl.Subject, req.IdempotencyKey)
	status := fiber.StatusCreated
	switch {
	case errors.Is(err, ledger.ErrDuplicate):
		status = fiber.StatusOK
	case errors.Is(err, explain.ErrNoJourney):
		return authjwt.Problem(c, fiber.StatusNotFound, "no-journey", "No journey with this id.")
	case errors.Is(err, ledger.ErrRefundTooLarge):
		return authjwt.Problem(c, fiber.StatusConflict, "refund-too-large", "The refund is more than the rider paid for this journey.")
	case errors.Is(err, ledger.ErrKeyConflict):
		return authjwt.Problem(c, fiber.StatusConflict, "idempotency-key-reused", "This idempotency_key was used for a different refund.")
	case err != nil:
		return err
	}
	return c.Status(status).JSON(fiber.Map{
		"journey_id": id, "transaction_id": txID, "amount_vnd": req.AmountVND, "amount_text": money.Format(amount), "reason": req.Reason,
	})
}
