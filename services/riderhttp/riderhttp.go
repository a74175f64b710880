// Package riderhttp is the riders' own view of their account, mounted under
// /v1 of the accounts API (behind its JWT check): balance, funding, passes,
// journeys with the rule that priced each, history, statements and
// disputes; the operators' dispute queue; and the rider's mobile page
// (served outside /v1, its script calls /v1 with the rider's token).
//
// A rider's token (role rider, sub = the pseudonymous VNeID subject) is
// what the VNeID app gets when it exchanges the citizen's VNeID login with
// vnpass: the /v1/me routes read only that subject's data, and any id of
// another rider's journey or dispute answers "not found". Errors are
// RFC 7807 problems.
package riderhttp

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/dispute"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/disputepg"
	"github.com/vnpass/vnpass/services/settlepg"
)

// Store is what the rider's view reads of settlement (*settlepg.Store).
type Store interface {
	Account(ctx context.Context, id ledger.AccountID) (ledger.Account, error)
	AccountFunding(ctx context.Context, subject string) (settlepg.Funding, error)
	LiveLink(ctx context.Context, subject string) (settlepg.FundingLink, error)
	RiderPasses(ctx context.Context, subject string, since time.Time) ([]settlepg.Pass, error)
	RiderJourneys(ctx context.Context, f settlepg.JourneyFilter) ([]admission.Journey, error)
	HistoryBefore(ctx context.Context, subject string, before int64, limit int) ([]settlepg.Posting, error)
	RiderFarePostings(ctx context.Context, subject string, ids []int64) (map[int64][]explain.Posting, error)
	Statement(ctx context.Context, subject string, from, to time.Time) (settlepg.Statement, error)
	explain.Journeys
	RefundJourney(ctx context.Context, journeyID int64, amount decimal.Decimal, reason, by, key string) (int64, error)
}

// Disputes is the dispute store (*disputepg.Store).
type Disputes interface {
	File(ctx context.Context, d dispute.Dispute) (dispute.Dispute, error)
	Get(ctx context.Context, id int64) (dispute.Dispute, error)
	List(ctx context.Context, f disputepg.Filter) ([]dispute.Dispute, error)
	Update(ctx context.Context, id int64, fn func(*dispute.Dispute) error) (dispute.Dispute, error)
	// ChargeOperator is the operator of the dispute's charge's line or lot.
	ChargeOperator(ctx context.Context, id int64) (string, error)
}

// Parking is the seam to the parking service's sessions (issue 6): a
// rider's sessions with their charges, one session for a dispute, and its
// refund through the ledger. Nil until parking is wired in.
type Parking interface {
	RiderSessions(ctx context.Context, subject string, from, to time.Time, limit int) ([]ParkingSession, error)
	// Session returns one session; ErrNoSession if none.
	Session(ctx context.Context, id int64) (ParkingSession, error)
	// RefundSession posts an operator's refund of a session, idempotent
	// per (id, key), at most what was charged (ledger.ErrRefundTooLarge);
	// it returns the ledger transaction id (and ledger.ErrDuplicate with it
	// for a repeat).
	RefundSession(ctx context.Context, id int64, amount decimal.Decimal, reason, by, key string) (int64, error)
}

// ErrNoSession: no parking session with that id.
var ErrNoSession = errors.New("riderhttp: no such parking session")

// ParkingSession is a parking session as the rider sees it. Charged is
// what the rider paid net of refunds (what a dispute may claim back).
type ParkingSession struct {
	ID          int64           `json:"id"`
	Subject     string          `json:"-"`
	LotID       string          `json:"lot_id"`
	LotName     string          `json:"lot_name"`
	Vehicle     string          `json:"vehicle"` // the class: motorbike, car, large
	Plate       string          `json:"plate"`   // as the barrier read it (the rider's own)
	EntryAt     time.Time       `json:"entry_at"`
	ExitAt      time.Time       `json:"exit_at,omitzero"`
	Status      string          `json:"status"`
	Fee         decimal.Decimal `json:"-"`
	Refunded    decimal.Decimal `json:"-"`
	Charged     decimal.Decimal `json:"-"`
	FeeVND      int64           `json:"fee_vnd"`
	RefundedVND int64           `json:"refunded_vnd"`
	ChargedVND  int64           `json:"charged_vnd"`
	ChargedText string          `json:"charged_text"`
	TariffRule  string          `json:"tariff_rule"` // the tariff row that priced it, "subscription" or "override:<id>"
	// Explanation is the tariff's steps, each naming its data row, in
	// Vietnamese and English (an open session: up to now).
	Explanation []ParkingStep `json:"explanation"`
	Disputable  bool          `json:"disputable"`
	Dispute     *DisputeRef   `json:"dispute,omitempty"`
}

// ParkingStep is one step of a parking fee: the tariff row and what it added.
type ParkingStep struct {
	Rule      string `json:"rule"`
	VI        string `json:"vi"`
	EN        string `json:"en"`
	AmountVND int64  `json:"amount_vnd"`
}

// Consents is the seam to partners' consents (the rail and partner API):
// the partners a rider allowed to read or charge their account. Nil until
// it is wired in.
type Consents interface {
	RiderConsents(ctx context.Context, subject string) ([]Consent, error)
}

// Consent is one partner's consent as the rider sees it.
type Consent struct {
	Partner   string    `json:"partner"`
	Scopes    []string  `json:"scopes"`
	GivenAt   time.Time `json:"given_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Config of the routes.
type Config struct {
	Store    Store
	Disputes Disputes
	Fares    explain.Fares
	Parking  Parking  // optional
	Consents Consents // optional
	Now      func() time.Time
}

// Routes returns the routes to mount under /v1 (accounthttp.Config.Routes):
//
//	GET  /v1/me                                  balance, funding, passes, consents, open disputes
//	GET  /v1/me/journeys[?from=&to=&before=&limit=]  journeys with the rules that priced them (dates local, to exclusive)
//	GET  /v1/me/parking[?from=&to=&limit=]       parking sessions (when parking is wired)
//	GET  /v1/me/history[?before=&limit=]         every movement: fares, top-ups, refunds, corrections, passes
//	GET  /v1/me/statements/:month[?format=json]  a month's statement (YYYY-MM), printable HTML
//	GET  /v1/me/disputes                         the rider's disputes and their outcomes
//	POST /v1/me/disputes {"kind", "charge_id", "reason"}
//	GET  /v1/disputes[?status=open&before=&limit=]  the operators' queue (admins; an operator: its own lines' and lots' charges)
//	GET  /v1/disputes/:id                        one dispute (its rider; admins; the charge's operator)
//	POST /v1/disputes/:id/resolution {"outcome": "refund" | "reject", "amount_vnd", "reason"} (admins; the charge's operator)
//
// An operator's token must name its operator (claim operator); a dispute
// of another operator's charge is "not found". Staff reads are audited and
// need X-Access-Reason (accounthttp.Audited); a resolution is audited with
// its reason.
func Routes(cfg Config) func(v1 fiber.Router) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handlers{cfg: cfg}
	return func(v1 fiber.Router) {
		me := v1.Group("/me", h.riderOnly)
		me.Get("", h.me)
		me.Get("/journeys", h.journeys)
		me.Get("/parking", h.parking)
		me.Get("/history", h.history)
		me.Get("/statements/:month", h.statement)
		me.Get("/disputes", h.myDisputes)
		me.Post("/disputes", h.file)
		v1.Get("/disputes", h.queue)
		v1.Get("/disputes/:id", h.dispute)
		v1.Post("/disputes/:id/resolution", h.resolve)
	}
}

type handlers struct{ cfg Config }

func staff(cl authjwt.Claims) bool {
	return cl.Role == authjwt.RoleAdmin || cl.Role == authjwt.RoleOperator
}

// riderOnly: /v1/me is the caller's own account, so only a rider's token
// (which names one) may ask.
func (h *handlers) riderOnly(c *fiber.Ctx) error {
	cl := authjwt.Caller(c)
	if cl.Role != authjwt.RoleRider || cl.Subject == "" {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only a rider's own token reads /v1/me.")
	}
	return c.Next()
}

func noAccount(c *fiber.Ctx) error {
	return authjwt.Problem(c, fiber.StatusNotFound, "no-account", "No vnpass account is linked to this VNeID identity.")
}

// PassJSON is a pass the rider holds.
type PassJSON struct {
	ID         int64  `json:"id"`
	ProductID  string `json:"product_id"`
	NetworkID  string `json:"network_id"`
	Category   string `json:"category"`
	PriceVND   int64  `json:"price_vnd"`
	PriceText  string `json:"price_text"`
	ValidFrom  string `json:"valid_from"`
	ValidUntil string `json:"valid_until"` // exclusive
	ValidNow   bool   `json:"valid_now"`
}

// FundingJSON is how the account pays.
type FundingJSON struct {
	Funding        string `json:"funding"` // prepaid, postpaid
	Method         string `json:"method,omitempty"`
	Account        string `json:"account,omitempty"` // masked
	Provider       string `json:"provider,omitempty"`
	ConsentVersion string `json:"consent_version,omitempty"`
	ConsentedAt    string `json:"consented_at,omitempty"`
	OwedVND        int64  `json:"owed_vnd"`
	OwedText       string `json:"owed_text"`
	InDebt         bool   `json:"in_debt"`
}

// MeJSON is the rider's account at a glance.
type MeJSON struct {
	Subject      string      `json:"subject"`
	Status       string      `json:"status"`
	BalanceVND   int64       `json:"balance_vnd"`
	BalanceText  string      `json:"balance_text"`
	Funding      FundingJSON `json:"funding"`
	Passes       []PassJSON  `json:"passes"`
	Consents     []Consent   `json:"consents"`
	OpenDisputes int         `json:"open_disputes"`
	AsOf         string      `json:"as_of"`
}

func local(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(fare.Zone).Format(time.RFC3339)
}

func vnd(d decimal.Decimal) int64 { return money.Round(d).IntPart() }

func (h *handlers) me(c *fiber.Ctx) error {
	ctx, subject, now := c.UserContext(), authjwt.Caller(c).Subject, h.cfg.Now()
	a, err := h.cfg.Store.Account(ctx, ledger.Rider(subject))
	if errors.Is(err, ledger.ErrNoAccount) {
		return noAccount(c)
	}
	if err != nil {
		return err
	}
	f, err := h.cfg.Store.AccountFunding(ctx, subject)
	if err != nil {
		return err
	}
	out := MeJSON{Subject: subject, Status: a.Status, BalanceVND: vnd(a.Balance), BalanceText: money.Format(a.Balance),
		Funding: FundingJSON{Funding: f.Funding, OwedVND: vnd(f.Owed), OwedText: money.Format(f.Owed), InDebt: !f.DebtSince.IsZero()},
		Passes:  []PassJSON{}, Consents: []Consent{}, AsOf: local(now)}
	if l, err := h.cfg.Store.LiveLink(ctx, subject); err == nil {
		out.Funding.Method, out.Funding.Account, out.Funding.Provider = l.Method, l.Masked, l.Provider
		out.Funding.ConsentVersion, out.Funding.ConsentedAt = l.ConsentVersion, local(l.ConsentedAt)
	} else if !errors.Is(err, settlepg.ErrNotLinked) {
		return err
	}
	passes, err := h.cfg.Store.RiderPasses(ctx, subject, now)
	if err != nil {
		return err
	}
	for _, p := range passes {
		out.Passes = append(out.Passes, PassJSON{ID: p.ID, ProductID: p.ProductID, NetworkID: p.NetworkID, Category: p.Category,
			PriceVND: vnd(p.Amount), PriceText: money.Format(p.Amount), ValidFrom: local(p.ValidFrom), ValidUntil: local(p.ValidUntil),
			ValidNow: !now.Before(p.ValidFrom) && now.Before(p.ValidUntil)})
	}
	if h.cfg.Consents != nil {
		cs, err := h.cfg.Consents.RiderConsents(ctx, subject)
		if err != nil {
			return err
		}
		out.Consents = append(out.Consents, cs...)
	}
	ds, err := h.cfg.Disputes.List(ctx, disputepg.Filter{Subject: subject, Status: dispute.StatusOpen, Limit: 500})
	if err != nil {
		return err
	}
	out.OpenDisputes = len(ds)
	return c.JSON(out)
}

// JourneyJSON is a journey as the rider sees it: the explanation's receipt
// (the rule that priced it, cap, transfer, pass, the ledger movements and
// the reasons in Vietnamese and English), what was paid net of refunds,
// and its dispute if any.
type JourneyJSON struct {
	explain.Receipt
	PaidVND    int64       `json:"paid_vnd"`
	PaidText   string      `json:"paid_text"`
	Disputable bool        `json:"disputable"`
	Dispute    *DisputeRef `json:"dispute,omitempty"`
}

// DisputeRef is the newest dispute of a charge.
type DisputeRef struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
}

// paid is what the rider paid net of refunds by the postings of a journey.
func paid(ps []explain.Posting) decimal.Decimal {
	sum := decimal.Zero
	for _, p := range ps {
		sum = sum.Add(p.Amount)
	}
	return sum
}

// dayRange reads from and to (local dates, to inclusive as people say
// "from the 1st to the 30th") into [from, to+1 day).
func dayRange(c *fiber.Ctx) (from, to time.Time, ok bool) {
	if s := c.Query("from"); s != "" {
		d, err := time.ParseInLocation(time.DateOnly, s, fare.Zone)
		if err != nil {
			return from, to, false
		}
		from = d
	}
	if s := c.Query("to"); s != "" {
		d, err := time.ParseInLocation(time.DateOnly, s, fare.Zone)
		if err != nil {
			return from, to, false
		}
		to = d.AddDate(0, 0, 1)
	}
	return from, to, from.IsZero() || to.IsZero() || from.Before(to)
}

func page(c *fiber.Ctx) (before int64, limit int, ok bool) {
	limit = 20
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return 0, 0, false
		}
		limit = n
	}
	if s := c.Query("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return 0, 0, false
		}
		before = n
	}
	return before, limit, true
}

func (h *handlers) journeys(c *fiber.Ctx) error {
	ctx, subject := c.UserContext(), authjwt.Caller(c).Subject
	from, to, ok := dayRange(c)
	if !ok {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-range", "from and to must be dates, YYYY-MM-DD (local time), from not after to.")
	}
	before, limit, ok := page(c)
	if !ok {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-page", "limit must be 1-100 and before a journey id.")
	}
	js, err := h.cfg.Store.RiderJourneys(ctx, settlepg.JourneyFilter{Subject: subject, From: from, To: to, Before: before, Limit: limit})
	if err != nil {
		return err
	}
	open, err := h.disputesByCharge(ctx, subject, dispute.KindJourney)
	if err != nil {
		return err
	}
	ids := make([]int64, len(js))
	for i, j := range js {
		ids[i] = j.ID
	}
	postings, err := h.cfg.Store.RiderFarePostings(ctx, subject, ids)
	if err != nil {
		return err
	}
	out := make([]JourneyJSON, 0, len(js))
	for _, j := range js {
		ps := postings[j.ID]
		if ps == nil {
			ps = []explain.Posting{}
		}
		p := paid(ps)
		v := JourneyJSON{Receipt: explain.Journey(h.cfg.Fares, j, ps), PaidVND: vnd(p), PaidText: money.Format(p)}
		if d, ok := open[j.ID]; ok {
			v.Dispute = &DisputeRef{ID: d.ID, Status: string(d.Status)}
		}
		v.Disputable = p.IsPositive() && (v.Dispute == nil || v.Dispute.Status != string(dispute.StatusOpen))
		out = append(out, v)
	}
	res := fiber.Map{"journeys": out}
	if len(js) == limit {
		res["next_before"] = js[len(js)-1].ID
	}
	return c.JSON(res)
}

// disputesByCharge maps a rider's charges of a kind to their newest dispute.
func (h *handlers) disputesByCharge(ctx context.Context, subject string, kind dispute.Kind) (map[int64]dispute.Dispute, error) {
	ds, err := h.cfg.Disputes.List(ctx, disputepg.Filter{Subject: subject, Limit: 500})
	if err != nil {
		return nil, err
	}
	out := make(map[int64]dispute.Dispute)
	for _, d := range ds { // newest first
		if _, seen := out[d.ChargeID]; !seen && d.Kind == kind {
			out[d.ChargeID] = d
		}
	}
	return out, nil
}

func (h *handlers) parking(c *fiber.Ctx) error {
	if h.cfg.Parking == nil {
		return c.JSON(fiber.Map{"sessions": []ParkingSession{}})
	}
	from, to, ok := dayRange(c)
	if !ok {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-range", "from and to must be dates, YYYY-MM-DD (local time), from not after to.")
	}
	_, limit, ok := page(c)
	if !ok {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-page", "limit must be 1-100.")
	}
	ctx, subject := c.UserContext(), authjwt.Caller(c).Subject
	ss, err := h.cfg.Parking.RiderSessions(ctx, subject, from, to, limit)
	if err != nil {
		return err
	}
	disputes, err := h.disputesByCharge(ctx, subject, dispute.KindParking)
	if err != nil {
		return err
	}
	for i := range ss {
		s := &ss[i]
		s.FeeVND, s.RefundedVND, s.ChargedVND, s.ChargedText = vnd(s.Fee), vnd(s.Refunded), vnd(s.Charged), money.Format(s.Charged)
		if s.Explanation == nil {
			s.Explanation = []ParkingStep{}
		}
		if d, ok := disputes[s.ID]; ok {
			s.Dispute = &DisputeRef{ID: d.ID, Status: string(d.Status)}
		}
		s.Disputable = s.Charged.IsPositive() && (s.Dispute == nil || s.Dispute.Status != string(dispute.StatusOpen))
	}
	if ss == nil {
		ss = []ParkingSession{}
	}
	return c.JSON(fiber.Map{"sessions": ss})
}

// PostingJSON is one movement on the rider's account.
type PostingJSON struct {
	TransactionID int64  `json:"transaction_id"`
	At            string `json:"at"`
	Kind          string `json:"kind"`
	Memo          string `json:"memo,omitempty"`
	AmountVND     int64  `json:"amount_vnd"` // positive: money in; negative: money out
	AmountText    string `json:"amount_text"`
	JourneyID     int64  `json:"journey_id,omitempty"`
}

func postingJSON(p settlepg.Posting) PostingJSON {
	return PostingJSON{TransactionID: p.TransactionID, At: local(p.At), Kind: p.Kind, Memo: p.Memo,
		AmountVND: vnd(p.Amount), AmountText: money.Format(p.Amount), JourneyID: p.JourneyID}
}

func (h *handlers) history(c *fiber.Ctx) error {
	before, limit, ok := page(c)
	if !ok {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-page", "limit must be 1-100 and before a transaction id.")
	}
	ps, err := h.cfg.Store.HistoryBefore(c.UserContext(), authjwt.Caller(c).Subject, before, limit)
	if err != nil {
		return err
	}
	out := make([]PostingJSON, len(ps))
	for i, p := range ps {
		out[i] = postingJSON(p)
	}
	res := fiber.Map{"postings": out}
	if len(ps) == limit {
		res["next_before"] = ps[len(ps)-1].TransactionID
	}
	return c.JSON(res)
}
