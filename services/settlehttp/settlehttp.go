// Package settlehttp is the HTTP API of settlement, mounted under /v1 of the
// accounts API (behind its JWT check): operators' fare corrections, a
// rider's account history, the daily clearing report per operator and the
// daily reconciliation. Errors are RFC 7807 problems.
package settlehttp

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/payment"
	"github.com/vnpass/vnpass/services/accounthttp"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/collect"
	"github.com/vnpass/vnpass/services/settlepg"
)

// Store is what the routes need of the settlement store (*settlepg.Store).
type Store interface {
	Journey(ctx context.Context, id int64) (admission.Journey, error)
	CorrectJourney(ctx context.Context, c settlepg.Correction) (int64, error)
	History(ctx context.Context, subject string, limit int) ([]settlepg.Posting, error)
	Clearing(ctx context.Context, day time.Time) ([]settlepg.OperatorClearing, error)
	Reconcile(ctx context.Context, day time.Time, reports map[string][]settlepg.ProviderSettlement) (settlepg.Reconciliation, error)
	SetAccountStatus(ctx context.Context, subject, status, reason, by string) error
	DenyList(ctx context.Context, debtLimit decimal.Decimal) ([]string, error)
}

// Config of the routes.
type Config struct {
	Store Store
	Fares explain.Fares // prices a correction given as the exit station
	// Reports fetches the payment providers' settlement reports of a day
	// for reconciliation; nil reconciles without them.
	Reports func(ctx context.Context, day time.Time) (map[string][]settlepg.ProviderSettlement, error)
	Now     func() time.Time
	// DebtLimit is admission's: riders owing more are on the deny list.
	DebtLimit decimal.Decimal
	// Funding, when set, lets riders link a bank account or e-wallet and
	// travel post-paid, and pay their debts.
	Funding *Funding
}

// Funding is post-paid travel: where riders link funding sources and how
// they are charged.
type Funding struct {
	Store     FundingStore
	Provider  payment.Provider // the provider riders link with
	Collector *collect.Collector
	// ConsentVersion is the version of the post-paid terms riders must
	// accept to link, e.g. "postpaid-2026-11".
	ConsentVersion string
}

// FundingStore is what the funding routes need (*settlepg.Store).
type FundingStore interface {
	LinkFunding(ctx context.Context, l settlepg.FundingLink, postpaid bool) (settlepg.FundingLink, error)
	LiveLink(ctx context.Context, subject string) (settlepg.FundingLink, error)
	UnlinkFunding(ctx context.Context, subject, reason string) (settlepg.FundingLink, error)
	AccountFunding(ctx context.Context, subject string) (settlepg.Funding, error)
}

// Routes returns the routes to mount under /v1:
//
//	POST /v1/journeys/:id/corrections {"exit_stop" | "fare_vnd", "reason", "idempotency_key"} (admins; operators: their own lines' journeys)
//	GET  /v1/accounts/:subject/history[?limit=50] (the rider; admins, with X-Access-Reason)
//	GET  /v1/clearing?day=YYYY-MM-DD (admins; operators: their own line of the report)
//	GET  /v1/reconciliation?day=YYYY-MM-DD (admins)
//	PUT  /v1/accounts/:subject/status {"status": "suspended" | "active" | "closed", "reason"} (admins)
//	GET  /v1/deny-list (admins, operators; the fleet service pushes it to gates for offline decisions)
//
// and with Funding:
//
//	GET    /v1/accounts/:subject/funding (the rider; admins, with X-Access-Reason): how the account pays, what it owes
//
// Operators reach riders only through their own lines' journeys: an
// operator's token must carry its operator claim, and a journey of another
// operator is "not found". Staff access to a rider's data is audited
// (accounthttp.Audited) before it is read or changed.
//
//	POST   /v1/accounts/:subject/funding {"method", "account", "consent_version", "postpaid", "idempotency_key"} (the rider)
//	DELETE /v1/accounts/:subject/funding (the rider): consent withdrawn, back to prepaid
//	POST   /v1/accounts/:subject/debt/payments {"idempotency_key"} (the rider): pay what is owed now
//	POST   /v1/collections/runs {"day"} (admins): run a day's collections now
func Routes(cfg Config) func(v1 fiber.Router) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handlers{cfg: cfg}
	return func(v1 fiber.Router) {
		v1.Post("/journeys/:id/corrections", h.correct)
		v1.Get("/accounts/:subject/history", h.history)
		v1.Get("/clearing", h.clearing)
		v1.Get("/reconciliation", h.reconciliation)
		v1.Put("/accounts/:subject/status", h.setStatus)
		v1.Get("/deny-list", h.denyList)
		if cfg.Funding != nil {
			v1.Get("/accounts/:subject/funding", h.funding)
			v1.Post("/accounts/:subject/funding", h.link)
			v1.Delete("/accounts/:subject/funding", h.unlink)
			v1.Post("/accounts/:subject/debt/payments", h.payDebt)
			v1.Post("/collections/runs", h.runCollections)
		}
	}
}

type handlers struct{ cfg Config }

// answered wraps the error of an answer already written (a problem
// document), so that a helper's caller returns at once.
type answered struct{ err error }

func (a answered) Error() string { return "answered" }

// done writes a problem and returns an error telling the caller to stop.
func done(c *fiber.Ctx, status int, kind, detail string) error {
	return answered{authjwt.Problem(c, status, kind, detail)}
}

// finish turns a helper's error into the handler's result.
func finish(err error) error {
	var a answered
	if errors.As(err, &a) {
		return a.err
	}
	return err
}

func staff(cl authjwt.Claims) bool {
	return cl.Role == authjwt.RoleAdmin || cl.Role == authjwt.RoleOperator
}

// scoped: an admin, or an operator whose token names its operator.
func scoped(cl authjwt.Claims) bool {
	return cl.Role == authjwt.RoleAdmin || (cl.Role == authjwt.RoleOperator && cl.Operator != "")
}

// ownJourney: an admin, or the operator of the journey's line.
func ownJourney(cl authjwt.Claims, j admission.Journey) bool {
	return cl.Role == authjwt.RoleAdmin || (cl.Role == authjwt.RoleOperator && cl.Operator != "" && cl.Operator == j.OperatorID)
}

// unscoped refuses an operator token without an operator claim.
func unscoped(c *fiber.Ctx) error {
	return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "An operator's token must name its operator (claim operator).")
}

func (h *handlers) correct(c *fiber.Ctx) error {
	cl := authjwt.Caller(c)
	if !staff(cl) {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only an operator may correct a fare.")
	}
	if !scoped(cl) {
		return unscoped(c)
	}
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-id", "id must be a journey id, a positive whole number.")
	}
	// An operator corrects only its own lines' journeys; another's is "not
	// found", whatever the body says.
	ctx := c.UserContext()
	j, err := h.cfg.Store.Journey(ctx, id)
	if errors.Is(err, explain.ErrNoJourney) || (err == nil && !ownJourney(cl, j)) {
		return authjwt.Problem(c, fiber.StatusNotFound, "no-journey", "No journey with this id.")
	}
	if err != nil {
		return err
	}
	var req struct {
		ExitStop       string `json:"exit_stop"`
		FareVND        *int64 `json:"fare_vnd"`
		Reason         string `json:"reason"`
		IdempotencyKey string `json:"idempotency_key"`
	}
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request",
			`The body must be JSON: {"exit_stop": "hn2a-la-thanh" or "fare_vnd": 9000, "reason": "...", "idempotency_key": "..."}.`)
	}
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case (req.ExitStop == "") == (req.FareVND == nil):
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-correction", "Give either exit_stop (the fare is computed) or fare_vnd, not both.")
	case req.FareVND != nil && (*req.FareVND < 0 || *req.FareVND > 1_000_000):
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-fare", "fare_vnd must be a whole number of dong from 0 to 1.000.000.")
	case len([]rune(req.Reason)) < 3 || len(req.Reason) > 300:
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-reason", "reason must say why, in 3 to 300 characters.")
	case req.IdempotencyKey == "" || len(req.IdempotencyKey) > 100:
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-idempotency-key", "idempotency_key must be 1-100 characters.")
	}
	if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "journey.correct", Rider: j.Subject, Reason: req.Reason}); !ok {
		return err
	}
	corr := settlepg.Correction{JourneyID: id, Reason: req.Reason, By: string(cl.Role) + ":" + cl.Subject, Key: req.IdempotencyKey}
	if req.FareVND != nil {
		corr.NewFare = money.Dong(*req.FareVND)
	} else {
		if _, ok := h.cfg.Fares.Stop(req.ExitStop); !ok {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-exit-stop", "exit_stop: no station has stop_id "+strconv.Quote(req.ExitStop)+".")
		}
		if j.EntrySite == "" {
			return authjwt.Problem(c, fiber.StatusConflict, "no-entry", "The journey has no entry station: give fare_vnd instead.")
		}
		q, err := h.cfg.Fares.PriceFor(fare.Query{From: j.EntrySite, To: req.ExitStop, Category: j.Category, At: j.EntryAt})
		if err != nil {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-exit-stop", "No fare covers "+j.EntrySite+" to "+req.ExitStop+".")
		}
		corr.NewFare, corr.ExitSite, corr.FareRule = q.Amount, req.ExitStop, q.RuleID
	}
	txID, err := h.cfg.Store.CorrectJourney(ctx, corr)
	status := fiber.StatusCreated
	switch {
	case errors.Is(err, ledger.ErrDuplicate):
		status = fiber.StatusOK
	case errors.Is(err, ledger.ErrInvalid):
		return authjwt.Problem(c, fiber.StatusConflict, "not-correctable", "This journey cannot be corrected: it is still open.")
	case err != nil:
		return err
	}
	return c.Status(status).JSON(fiber.Map{
		"journey_id": id, "transaction_id": txID, "fare_vnd": corr.NewFare.IntPart(), "fare_text": money.Format(corr.NewFare),
		"exit_stop": corr.ExitSite, "reason": corr.Reason, "corrected_by": corr.By,
	})
}

var subjectOK = func(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// PostingView is one line of a rider's history.
type PostingView struct {
	TransactionID int64     `json:"transaction_id"`
	At            time.Time `json:"at"`
	Kind          string    `json:"kind"`
	Memo          string    `json:"memo,omitempty"`
	AmountVND     int64     `json:"amount_vnd"`
	AmountText    string    `json:"amount_text"`
	JourneyID     int64     `json:"journey_id,omitempty"`
}

func (h *handlers) history(c *fiber.Ctx) error {
	subject := c.Params("subject")
	if !subjectOK(subject) {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-subject", "subject must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'.")
	}
	cl := authjwt.Caller(c)
	if cl.Role != authjwt.RoleAdmin && !self(cl, subject) {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "You may not read this account.")
	}
	limit := 50
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-limit", "limit must be a whole number from 1 to 500.")
		}
		limit = n
	}
	if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "account.history.read", Rider: subject}); !ok {
		return err
	}
	ps, err := h.cfg.Store.History(c.UserContext(), subject, limit)
	if err != nil {
		return err
	}
	out := make([]PostingView, len(ps))
	for i, p := range ps {
		out[i] = PostingView{p.TransactionID, p.At, p.Kind, p.Memo, p.Amount.IntPart(), money.Format(p.Amount), p.JourneyID}
	}
	return c.JSON(fiber.Map{"subject": subject, "postings": out})
}

func (h *handlers) day(c *fiber.Ctx) (time.Time, error) {
	s := c.Query("day")
	if s == "" {
		return h.cfg.Now().In(fare.Zone), nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, fare.Zone)
	if err != nil {
		return time.Time{}, done(c, fiber.StatusBadRequest, "bad-day", "day must be a date, YYYY-MM-DD (local time).")
	}
	return d, nil
}

// ClearingView is one operator's line of the clearing report.
type ClearingView struct {
	Operator       string `json:"operator"`
	Day            string `json:"day"`
	Journeys       int64  `json:"journeys"`
	FaresVND       int64  `json:"fares_vnd"`
	CorrectionsVND int64  `json:"corrections_vnd"`
	RefundsVND     int64  `json:"refunds_vnd"`
	PassesVND      int64  `json:"passes_vnd"`
	ParkingVND     int64  `json:"parking_vnd"`
	OtherVND       int64  `json:"other_vnd"`
	TotalVND       int64  `json:"total_vnd"`
	TotalText      string `json:"total_text"`
	LedgerVND      int64  `json:"ledger_vnd"`
	EqualsLedger   bool   `json:"equals_ledger"`
}

// clearing is the day's report: an admin reads every operator's line, an
// operator only its own (no rider data in it: not audited).
func (h *handlers) clearing(c *fiber.Ctx) error {
	cl := authjwt.Caller(c)
	if !staff(cl) {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only operators may read the clearing report.")
	}
	if !scoped(cl) {
		return unscoped(c)
	}
	day, err := h.day(c)
	if err != nil {
		return finish(err)
	}
	rows, err := h.cfg.Store.Clearing(c.UserContext(), day)
	if err != nil {
		return err
	}
	out := make([]ClearingView, 0, len(rows))
	total := decimal.Zero
	for _, r := range rows {
		if cl.Role == authjwt.RoleOperator && r.Operator != cl.Operator {
			continue
		}
		out = append(out, ClearingView{r.Operator, r.Day, r.Journeys, r.Fares.IntPart(), r.Corrections.IntPart(), r.Refunds.IntPart(),
			r.Passes.IntPart(), r.Parking.IntPart(), r.Other.IntPart(), r.Total.IntPart(), money.Format(r.Total), r.Ledger.IntPart(), r.Balanced()})
		total = total.Add(r.Total)
	}
	return c.JSON(fiber.Map{"day": day.Format(time.DateOnly), "operators": out, "total_vnd": total.IntPart(), "total_text": money.Format(total)})
}

func (h *handlers) reconciliation(c *fiber.Ctx) error {
	if authjwt.Caller(c).Role != authjwt.RoleAdmin {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only admins may run reconciliation.")
	}
	day, err := h.day(c)
	if err != nil {
		return finish(err)
	}
	ctx := c.UserContext()
	var reports map[string][]settlepg.ProviderSettlement
	if h.cfg.Reports != nil {
		if reports, err = h.cfg.Reports(ctx, day); err != nil {
			return authjwt.Problem(c, fiber.StatusBadGateway, "provider-report", "A payment provider's settlement report could not be fetched; try again.")
		}
	}
	r, err := h.cfg.Store.Reconcile(ctx, day, reports)
	if err != nil {
		return err
	}
	return c.JSON(View(r))
}

// ReconciliationView is the JSON of a reconciliation.
type ReconciliationView struct {
	Day            string              `json:"day"`
	OK             bool                `json:"ok"`
	TapsRecorded   int64               `json:"taps_recorded"`
	EntriesOpened  int64               `json:"entries_opened"`
	ExitsOpened    int64               `json:"exits_opened"`
	JourneysClosed int64               `json:"journeys_closed"`
	JourneysPriced int64               `json:"journeys_priced"`
	JourneysPaid   int64               `json:"journeys_paid"`
	FarePostings   int64               `json:"fare_postings"`
	FaresVND       int64               `json:"fares_vnd"`
	Providers      map[string]int      `json:"provider_debits_matched"`
	Unreported     map[string]int      `json:"provider_movements_unchecked"`
	LedgerBalanced bool                `json:"ledger_balanced"`
	Differences    []map[string]string `json:"differences"`
}

// View is the JSON form of a reconciliation.
func View(r settlepg.Reconciliation) ReconciliationView {
	v := ReconciliationView{Day: r.Day, OK: r.OK(), TapsRecorded: r.TapsRecorded, EntriesOpened: r.EntriesOpened,
		ExitsOpened: r.ExitsOpened, JourneysClosed: r.JourneysClosed, JourneysPriced: r.JourneysPriced,
		JourneysPaid: r.JourneysPaid, FarePostings: r.FarePostings, FaresVND: r.Fares.IntPart(),
		Providers: r.Providers, Unreported: r.Unreported, LedgerBalanced: r.Books.Balanced(), Differences: []map[string]string{}}
	for _, d := range r.Differences {
		v.Differences = append(v.Differences, map[string]string{"check": d.Check, "ref": d.Ref, "detail": d.Detail})
	}
	return v
}

// self reports whether the caller is the rider owning subject.
func self(cl authjwt.Claims, subject string) bool {
	return cl.Role == authjwt.RoleRider && cl.Subject != "" && cl.Subject == subject
}

// FundingView is how an account pays and what it owes.
type FundingView struct {
	Subject     string     `json:"subject"`
	Funding     string     `json:"funding"`
	Method      string     `json:"method,omitempty"`
	Masked      string     `json:"account,omitempty"`
	Provider    string     `json:"provider,omitempty"`
	ConsentedAt *time.Time `json:"consented_at,omitempty"`
	ConsentVer  string     `json:"consent_version,omitempty"`
	OwedVND     int64      `json:"owed_vnd"`
	OwedText    string     `json:"owed_text"`
	PendingVND  int64      `json:"pending_vnd"`
	InDebt      bool       `json:"in_debt"`
	DebtSince   *time.Time `json:"debt_since,omitempty"`
}

// subject reads :subject: the rider's own, or with riderOnly false an
// admin's (operators do not reach riders' accounts by subject).
func (h *handlers) subject(c *fiber.Ctx, riderOnly bool) (string, error) {
	subject := c.Params("subject")
	if !subjectOK(subject) {
		return "", done(c, fiber.StatusBadRequest, "bad-subject", "subject must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'.")
	}
	cl := authjwt.Caller(c)
	if !self(cl, subject) && (riderOnly || cl.Role != authjwt.RoleAdmin) {
		return "", done(c, fiber.StatusForbidden, "forbidden", "Only the rider may do this on their account.")
	}
	return subject, nil
}

func (h *handlers) fundingView(ctx context.Context, subject string) (FundingView, error) {
	f := h.cfg.Funding
	st, err := f.Store.AccountFunding(ctx, subject)
	if err != nil {
		return FundingView{}, err
	}
	v := FundingView{Subject: subject, Funding: st.Funding, OwedVND: st.Owed.IntPart(), OwedText: money.Format(st.Owed),
		PendingVND: st.Pending.IntPart(), InDebt: !st.DebtSince.IsZero()}
	if v.InDebt {
		v.DebtSince = &st.DebtSince
	}
	l, err := f.Store.LiveLink(ctx, subject)
	if err == nil {
		v.Method, v.Masked, v.Provider, v.ConsentedAt, v.ConsentVer = l.Method, l.Masked, l.Provider, &l.ConsentedAt, l.ConsentVersion
	} else if !errors.Is(err, settlepg.ErrNotLinked) {
		return FundingView{}, err
	}
	return v, nil
}

func (h *handlers) funding(c *fiber.Ctx) error {
	subject, err := h.subject(c, false)
	if err != nil {
		return finish(err)
	}
	if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "account.funding.read", Rider: subject}); !ok {
		return err
	}
	v, err := h.fundingView(c.UserContext(), subject)
	if errors.Is(err, ledger.ErrNoAccount) {
		return authjwt.Problem(c, fiber.StatusNotFound, "no-account", "No vnpass account is linked to this subject.")
	}
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (h *handlers) link(c *fiber.Ctx) error {
	subject, err := h.subject(c, true)
	if err != nil {
		return finish(err)
	}
	f := h.cfg.Funding
	var req struct {
		Method         string `json:"method"`
		Account        string `json:"account"`
		ConsentVersion string `json:"consent_version"`
		Postpaid       bool   `json:"postpaid"`
		IdempotencyKey string `json:"idempotency_key"`
	}
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request",
			`The body must be JSON: {"method": "bank", "account": "...", "consent_version": "`+f.ConsentVersion+`", "postpaid": true, "idempotency_key": "..."}.`)
	}
	switch {
	case !payment.Method(req.Method).Valid():
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-method", `method must be "bank" or "ewallet".`)
	case req.ConsentVersion != f.ConsentVersion:
		return authjwt.Problem(c, fiber.StatusBadRequest, "consent-required",
			"Linking needs the rider's consent to the current post-paid terms: consent_version must be "+strconv.Quote(f.ConsentVersion)+".")
	case req.IdempotencyKey == "" || len(req.IdempotencyKey) > 100:
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-idempotency-key", "idempotency_key must be 1-100 characters.")
	}
	ctx := c.UserContext()
	key := "link:" + subject + ":" + req.IdempotencyKey
	l, err := f.Provider.Link(ctx, payment.LinkRequest{Key: key, Subject: subject, Method: payment.Method(req.Method),
		Account: req.Account, ConsentVersion: req.ConsentVersion})
	switch {
	case errors.Is(err, payment.ErrInvalid):
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-account", "The provider refused the account: check the number.")
	case errors.Is(err, payment.ErrKeyConflict):
		return authjwt.Problem(c, fiber.StatusConflict, "idempotency-key-reused", "This idempotency_key was used for another link.")
	case err != nil:
		return authjwt.Problem(c, fiber.StatusBadGateway, "provider-unavailable", "The payment provider did not answer; try again with the same idempotency_key.")
	}
	_, err = f.Store.LinkFunding(ctx, settlepg.FundingLink{Subject: subject, Provider: l.Provider, Method: string(l.Method),
		Token: l.Token, Masked: l.Masked, ConsentVersion: req.ConsentVersion, Key: key}, req.Postpaid)
	status := fiber.StatusCreated
	switch {
	case errors.Is(err, ledger.ErrDuplicate):
		status = fiber.StatusOK
	case errors.Is(err, settlepg.ErrAlreadyLinked):
		return authjwt.Problem(c, fiber.StatusConflict, "already-linked", "A funding source is already linked: unlink it first.")
	case errors.Is(err, ledger.ErrNoAccount):
		return authjwt.Problem(c, fiber.StatusNotFound, "no-account", "No vnpass account is linked to this subject.")
	case err != nil:
		return err
	}
	v, err := h.fundingView(ctx, subject)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(v)
}

func (h *handlers) unlink(c *fiber.Ctx) error {
	subject, err := h.subject(c, true)
	if err != nil {
		return finish(err)
	}
	f := h.cfg.Funding
	ctx := c.UserContext()
	l, err := f.Store.UnlinkFunding(ctx, subject, "consent withdrawn by the rider")
	switch {
	case errors.Is(err, settlepg.ErrNotLinked):
		return authjwt.Problem(c, fiber.StatusNotFound, "not-linked", "No funding source is linked.")
	case errors.Is(err, settlepg.ErrOwes):
		return authjwt.Problem(c, fiber.StatusConflict, "owes", "Pay what is owed before unlinking.")
	case err != nil:
		return err
	}
	// Our side is done (no more debits will be asked); the provider is
	// told too, and a failure there is only logged by the caller's retry.
	if err := f.Provider.Unlink(ctx, l.Token); err != nil {
		return authjwt.Problem(c, fiber.StatusBadGateway, "provider-unavailable", "Unlinked here; the provider could not be told yet, try again.")
	}
	v, err := h.fundingView(ctx, subject)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (h *handlers) payDebt(c *fiber.Ctx) error {
	subject, err := h.subject(c, true)
	if err != nil {
		return finish(err)
	}
	var req struct {
		IdempotencyKey string `json:"idempotency_key"`
	}
	if err := c.BodyParser(&req); err != nil || req.IdempotencyKey == "" || len(req.IdempotencyKey) > 100 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-idempotency-key", `The body must be JSON: {"idempotency_key": "..."} (1-100 characters).`)
	}
	ctx := c.UserContext()
	col, sum, err := h.cfg.Funding.Collector.Recover(ctx, subject, req.IdempotencyKey)
	switch {
	case errors.Is(err, settlepg.ErrNothingOwed):
		return authjwt.Problem(c, fiber.StatusConflict, "nothing-owed", "Nothing is owed.")
	case errors.Is(err, settlepg.ErrNotLinked):
		return authjwt.Problem(c, fiber.StatusConflict, "not-linked", "Link a bank account or e-wallet to pay.")
	case err != nil:
		return err
	}
	status := fiber.StatusOK
	if sum.Unknown > 0 || sum.Failed > 0 {
		status = fiber.StatusAccepted // pending: asked again shortly under the same key
	}
	v, err := h.fundingView(ctx, subject)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(fiber.Map{"payment": fiber.Map{"key": col.Key, "amount_vnd": col.Amount.IntPart(),
		"amount_text": money.Format(col.Amount), "status": col.Status}, "account": v})
}

func (h *handlers) runCollections(c *fiber.Ctx) error {
	if authjwt.Caller(c).Role != authjwt.RoleAdmin {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only admins may run collections.")
	}
	var req struct {
		Day string `json:"day"`
	}
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", `The body must be JSON: {"day": "YYYY-MM-DD"}.`)
	}
	day, err := time.ParseInLocation(time.DateOnly, req.Day, fare.Zone)
	if err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-day", "day must be a date, YYYY-MM-DD (local time).")
	}
	sum, err := h.cfg.Funding.Collector.Run(c.UserContext(), day)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"day": req.Day, "planned": sum.Planned, "approved": sum.Approved, "declined": sum.Declined,
		"unknown": sum.Unknown, "failed": sum.Failed})
}

// setStatus suspends, reinstates or closes an account, with a reason.
func (h *handlers) setStatus(c *fiber.Ctx) error {
	subject, err := h.subject(c, false)
	if err != nil {
		return finish(err)
	}
	cl := authjwt.Caller(c)
	if cl.Role != authjwt.RoleAdmin {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only an admin may change an account's status.")
	}
	var req struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", `The body must be JSON: {"status": "suspended", "reason": "..."}.`)
	}
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case req.Status != "active" && req.Status != "suspended" && req.Status != "closed":
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-status", `status must be "active", "suspended" or "closed".`)
	case len([]rune(req.Reason)) < 3 || len(req.Reason) > 300:
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-reason", "reason must say why, in 3 to 300 characters.")
	}
	if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "account.status." + req.Status, Rider: subject, Reason: req.Reason}); !ok {
		return err
	}
	err = h.cfg.Store.SetAccountStatus(c.UserContext(), subject, req.Status, req.Reason, string(cl.Role)+":"+cl.Subject)
	switch {
	case errors.Is(err, ledger.ErrNoAccount):
		return authjwt.Problem(c, fiber.StatusNotFound, "no-account", "No vnpass account is linked to this subject.")
	case errors.Is(err, settlepg.ErrClosed):
		return authjwt.Problem(c, fiber.StatusConflict, "closed", "The account is closed.")
	case errors.Is(err, settlepg.ErrOwes):
		return authjwt.Problem(c, fiber.StatusConflict, "not-settled", "Close needs a zero balance and no linked funding source: refund, collect or unlink first.")
	case err != nil:
		return err
	}
	return c.JSON(fiber.Map{"subject": subject, "status": req.Status, "reason": req.Reason, "changed_by": string(cl.Role) + ":" + cl.Subject})
}

// denyList: the riders gates deciding offline refuse at entry.
func (h *handlers) denyList(c *fiber.Ctx) error {
	if cl := authjwt.Caller(c); !staff(cl) && cl.Role != authjwt.RoleService {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only staff and the fleet service may read the deny list.")
	}
	subjects, err := h.cfg.Store.DenyList(c.UserContext(), h.cfg.DebtLimit)
	if err != nil {
		return err
	}
	if subjects == nil {
		subjects = []string{}
	}
	return c.JSON(fiber.Map{"issued_at": h.cfg.Now().UTC(), "count": len(subjects), "subjects": subjects})
}
