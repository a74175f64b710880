package riderhttp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/dispute"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/accounthttp"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/disputepg"
)

// DisputeJSON is a dispute and its outcome, with every change of state.
type DisputeJSON struct {
	ID          int64       `json:"id"`
	Kind        string      `json:"kind"`
	ChargeID    int64       `json:"charge_id"`
	ChargedVND  int64       `json:"charged_vnd"`
	ChargedText string      `json:"charged_text"`
	Reason      string      `json:"reason"`
	Status      string      `json:"status"`
	Resolution  string      `json:"resolution,omitempty"`
	ResolvedBy  string      `json:"resolved_by,omitempty"`
	ResolvedAt  string      `json:"resolved_at,omitempty"`
	RefundVND   int64       `json:"refund_vnd"`
	RefundText  string      `json:"refund_text,omitempty"`
	RefundTxID  int64       `json:"refund_transaction_id,omitempty"`
	CreatedAt   string      `json:"created_at"`
	Subject     string      `json:"subject,omitempty"` // shown to staff only
	Events      []EventJSON `json:"events"`
}

// EventJSON is one change of a dispute's state.
type EventJSON struct {
	At     string `json:"at"`
	By     string `json:"by"`
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

func disputeJSON(d dispute.Dispute, forStaff bool) DisputeJSON {
	v := DisputeJSON{ID: d.ID, Kind: string(d.Kind), ChargeID: d.ChargeID, ChargedVND: vnd(d.Charged), ChargedText: money.Format(d.Charged),
		Reason: d.Reason, Status: string(d.Status), Resolution: d.Resolution, ResolvedBy: d.ResolvedBy, ResolvedAt: local(d.ResolvedAt),
		RefundVND: vnd(d.Refund), RefundTxID: d.RefundTxID, CreatedAt: local(d.CreatedAt), Events: []EventJSON{}}
	if d.Refund.IsPositive() {
		v.RefundText = money.Format(d.Refund)
	}
	if forStaff {
		v.Subject = d.Subject
	}
	for _, e := range d.Events {
		v.Events = append(v.Events, EventJSON{At: local(e.At), By: e.By, Status: string(e.Status), Note: e.Note})
	}
	return v
}

func disputesJSON(ds []dispute.Dispute, forStaff bool) []DisputeJSON {
	out := make([]DisputeJSON, len(ds))
	for i, d := range ds {
		out[i] = disputeJSON(d, forStaff)
	}
	return out
}

func (h *handlers) myDisputes(c *fiber.Ctx) error {
	before, limit, ok := page(c)
	if !ok {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-page", "limit must be 1-100 and before a dispute id.")
	}
	ds, err := h.cfg.Disputes.List(c.UserContext(), disputepg.Filter{Subject: authjwt.Caller(c).Subject, Before: before, Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"disputes": disputesJSON(ds, false)})
}

// charged is what the rider paid for a charge of theirs, net of refunds;
// found false when the charge is not the rider's (or does not exist).
func (h *handlers) charged(ctx context.Context, subject string, kind dispute.Kind, id int64) (decimal.Decimal, bool, error) {
	switch kind {
	case dispute.KindJourney:
		j, err := h.cfg.Store.Journey(ctx, id)
		if errors.Is(err, explain.ErrNoJourney) {
			return decimal.Zero, false, nil
		}
		if err != nil {
			return decimal.Zero, false, err
		}
		if j.Subject != subject {
			return decimal.Zero, false, nil
		}
		ps, err := h.cfg.Store.FarePostings(ctx, id)
		if err != nil {
			return decimal.Zero, false, err
		}
		return paid(ps), true, nil
	case dispute.KindParking:
		if h.cfg.Parking == nil {
			return decimal.Zero, false, nil
		}
		s, err := h.cfg.Parking.Session(ctx, id)
		if errors.Is(err, ErrNoSession) {
			return decimal.Zero, false, nil
		}
		if err != nil {
			return decimal.Zero, false, err
		}
		return s.Charged, s.Subject == subject, nil
	}
	return decimal.Zero, false, nil
}

// file: a rider disputes a charge of theirs with a reason.
func (h *handlers) file(c *fiber.Ctx) error {
	subject := authjwt.Caller(c).Subject
	var req struct {
		Kind      string `json:"kind"`
		ChargeID  int64  `json:"charge_id"`
		JourneyID int64  `json:"journey_id"` // the same as kind "journey", charge_id
		Reason    string `json:"reason"`
	}
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", `The body must be JSON: {"kind": "journey", "charge_id": 42, "reason": "..."}.`)
	}
	if req.JourneyID != 0 && req.Kind == "" && req.ChargeID == 0 {
		req.Kind, req.ChargeID = string(dispute.KindJourney), req.JourneyID
	}
	if req.Kind == "" {
		req.Kind = string(dispute.KindJourney)
	}
	kind := dispute.Kind(req.Kind)
	if !kind.Valid() || req.ChargeID <= 0 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-charge", `kind must be "journey" or "parking_session" and charge_id its id.`)
	}
	ctx := c.UserContext()
	amount, mine, err := h.charged(ctx, subject, kind, req.ChargeID)
	if err != nil {
		return err
	}
	if !mine {
		return authjwt.Problem(c, fiber.StatusNotFound, "no-charge", "You have no charge with this id.")
	}
	d, err := dispute.New(subject, kind, req.ChargeID, amount, req.Reason, h.cfg.Now())
	switch {
	case errors.Is(err, dispute.ErrNotDisputable):
		return authjwt.Problem(c, fiber.StatusConflict, "nothing-charged", "Nothing is charged for this to dispute (it was free, paid by a pass, or refunded).")
	case errors.Is(err, dispute.ErrInvalid):
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-reason",
			fmt.Sprintf("reason must say what went wrong, in %d to %d characters.", dispute.MinReason, dispute.MaxReason))
	case err != nil:
		return err
	}
	d, err = h.cfg.Disputes.File(ctx, d)
	if errors.Is(err, dispute.ErrAlreadyOpen) {
		return authjwt.Problem(c, fiber.StatusConflict, "already-disputed", "This charge is already disputed; the operator will answer.")
	}
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(disputeJSON(d, false))
}

// unscoped refuses an operator token without an operator claim.
func unscoped(c *fiber.Ctx) error {
	return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "An operator's token must name its operator (claim operator).")
}

func (h *handlers) queue(c *fiber.Ctx) error {
	cl := authjwt.Caller(c)
	if !staff(cl) {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only operators read the dispute queue; riders read /v1/me/disputes.")
	}
	if cl.Role == authjwt.RoleOperator && cl.Operator == "" {
		return unscoped(c)
	}
	status := dispute.Status(c.Query("status"))
	if status != "" && !status.Valid() {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-status", `status must be "open", "refunded" or "rejected".`)
	}
	before, limit, ok := page(c)
	if !ok {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-page", "limit must be 1-100 and before a dispute id.")
	}
	// The queue names riders and carries their own words: audited, with a purpose.
	if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "dispute.queue.read"}); !ok {
		return err
	}
	ds, err := h.cfg.Disputes.List(c.UserContext(), disputepg.Filter{Status: status, Operator: cl.Operator, Before: before, Limit: limit})
	if err != nil {
		return err
	}
	res := fiber.Map{"disputes": disputesJSON(ds, true)}
	if len(ds) == limit {
		res["next_before"] = ds[len(ds)-1].ID
	}
	return c.JSON(res)
}

// find reads a dispute the caller may see: an admin any, an operator those
// of its own lines' and lots' charges, a rider its own; any other is "not
// found", so that ids cannot be probed.
func (h *handlers) find(c *fiber.Ctx) (dispute.Dispute, bool, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return dispute.Dispute{}, false, authjwt.Problem(c, fiber.StatusBadRequest, "bad-id", "id must be a dispute id, a positive whole number.")
	}
	cl := authjwt.Caller(c)
	if cl.Role == authjwt.RoleOperator && cl.Operator == "" {
		return dispute.Dispute{}, false, unscoped(c)
	}
	ctx := c.UserContext()
	d, err := h.cfg.Disputes.Get(ctx, id)
	may := err == nil && (cl.Role == authjwt.RoleAdmin || (cl.Role == authjwt.RoleRider && cl.Subject != "" && cl.Subject == d.Subject))
	if err == nil && cl.Role == authjwt.RoleOperator {
		op, oerr := h.cfg.Disputes.ChargeOperator(ctx, id)
		if oerr != nil {
			return dispute.Dispute{}, false, oerr
		}
		may = op != "" && op == cl.Operator
	}
	if errors.Is(err, dispute.ErrNotFound) || (err == nil && !may) {
		return dispute.Dispute{}, false, authjwt.Problem(c, fiber.StatusNotFound, "no-dispute", "No dispute with this id.")
	}
	if err != nil {
		return dispute.Dispute{}, false, err
	}
	return d, true, nil
}

func (h *handlers) dispute(c *fiber.Ctx) error {
	d, ok, err := h.find(c)
	if !ok {
		return err
	}
	if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "dispute.read", Rider: d.Subject}); !ok {
		return err
	}
	return c.JSON(disputeJSON(d, staff(authjwt.Caller(c))))
}

// resolve: an operator refunds a dispute through the ledger or rejects it
// with a reason. The refund is posted under the key "dispute-<id>" while
// the dispute's row is locked, so that it is posted once whatever is
// retried or raced, and a rejection cannot cross a refund.
func (h *handlers) resolve(c *fiber.Ctx) error {
	cl := authjwt.Caller(c)
	if !staff(cl) {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only an operator may resolve a dispute.")
	}
	d, ok, err := h.find(c)
	if !ok {
		return err
	}
	var req struct {
		Outcome   string `json:"outcome"`
		AmountVND int64  `json:"amount_vnd"`
		Reason    string `json:"reason"`
	}
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request",
			`The body must be JSON: {"outcome": "refund", "amount_vnd": 15000, "reason": "..."} or {"outcome": "reject", "reason": "..."}.`)
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if n := len([]rune(req.Reason)); n < dispute.MinReason || n > dispute.MaxReason {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-reason",
			fmt.Sprintf("reason is what the rider will read, in %d to %d characters.", dispute.MinReason, dispute.MaxReason))
	}
	if req.Outcome != "reject" && req.Outcome != "refund" {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-outcome", `outcome must be "refund" or "reject".`)
	}
	if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "dispute." + req.Outcome, Rider: d.Subject, Reason: req.Reason}); !ok {
		return err
	}
	by := string(cl.Role) + ":" + cl.Subject
	ctx := c.UserContext()
	var fn func(*dispute.Dispute) error
	switch req.Outcome {
	case "reject":
		fn = func(x *dispute.Dispute) error { return x.Rejected(req.Reason, by, h.cfg.Now()) }
	case "refund":
		if req.AmountVND < 0 || req.AmountVND > 10_000_000 {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-amount", "amount_vnd must be a positive whole number of dong (none: what was charged).")
		}
		fn = func(x *dispute.Dispute) error {
			if x.Status != dispute.StatusOpen {
				return dispute.ErrResolved
			}
			amount := x.Charged
			if req.AmountVND > 0 {
				amount = money.Dong(req.AmountVND)
			}
			memo := fmt.Sprintf("dispute #%d: %s", x.ID, req.Reason)
			key := fmt.Sprintf("dispute-%d", x.ID)
			var txID int64
			var err error
			switch x.Kind {
			case dispute.KindJourney:
				txID, err = h.cfg.Store.RefundJourney(ctx, x.ChargeID, amount, memo, by, key)
			case dispute.KindParking:
				if h.cfg.Parking == nil {
					return errors.New("riderhttp: parking is not wired")
				}
				txID, err = h.cfg.Parking.RefundSession(ctx, x.ChargeID, amount, memo, by, key)
			}
			if err != nil && !errors.Is(err, ledger.ErrDuplicate) {
				return err
			}
			return x.Refunded(amount, txID, req.Reason, by, h.cfg.Now())
		}
	default:
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-outcome", `outcome must be "refund" or "reject".`)
	}
	d, err = h.cfg.Disputes.Update(ctx, d.ID, fn)
	switch {
	case errors.Is(err, dispute.ErrResolved):
		cur, _ := h.cfg.Disputes.Get(ctx, d.ID)
		return authjwt.Problem(c, fiber.StatusConflict, "already-resolved", "This dispute is already "+string(cur.Status)+".")
	case errors.Is(err, ledger.ErrRefundTooLarge), errors.Is(err, dispute.ErrInvalid):
		return authjwt.Problem(c, fiber.StatusConflict, "refund-too-large", "The refund is more than the rider paid for this charge, net of earlier refunds.")
	case errors.Is(err, ledger.ErrKeyConflict):
		return authjwt.Problem(c, fiber.StatusConflict, "refund-differs", "A different refund was already posted for this dispute.")
	case err != nil:
		return err
	}
	return c.JSON(disputeJSON(d, true))
}
