package accounthttp

import (
	"context"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/settlepg"
)

// Eraser de-identifies a rider in the settlement database (*settlepg.Store).
type Eraser interface {
	Erase(ctx context.Context, subject, tombstone string, entry settlepg.AuditEntry, beforeCommit func(context.Context) error) (settlepg.Erasure, error)
}

// Erasure is erasure on request: the PostgreSQL records (Store) and the
// analytics (Analytics: deletes the rider's rows by the pseudonymous key of
// subject; nil when there are none).
type Erasure struct {
	Store     Eraser
	Analytics func(ctx context.Context, subject string) error
}

// erase: POST /v1/me/erasure {"reason"?} (the rider) and
// POST /v1/accounts/:subject/erasure {"reason"} (admins).
func (h *handlers) erase(c *fiber.Ctx) error {
	cl := authjwt.Caller(c)
	var req struct {
		Reason string `json:"reason"`
	}
	if len(c.Body()) > 0 {
		if err := c.BodyParser(&req); err != nil {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", `The body must be JSON: {"reason": "..."}.`)
		}
	}
	req.Reason = strings.TrimSpace(req.Reason)
	entry := settlepg.AuditEntry{Action: "account.erase", Resource: c.Path(), RequestID: requestID(c)}
	var subject string
	if c.Params("subject") == "" { // /v1/me/erasure
		if cl.Role != authjwt.RoleRider || cl.Subject == "" {
			return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only a rider's own token asks for its erasure.")
		}
		subject = cl.Subject
		if req.Reason == "" {
			req.Reason = "yêu cầu của hành khách / the rider's request"
		}
		entry.Role = "rider" // the actor is the rider: recorded under its tombstone
	} else {
		subject = c.Params("subject")
		if !subjectRE.MatchString(subject) {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-subject", "subject must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'.")
		}
		if cl.Role != authjwt.RoleAdmin {
			return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only an admin erases a rider's account on the rider's request.")
		}
		entry.Actor, entry.Role = cl.Subject, string(cl.Role)
	}
	if n := len([]rune(req.Reason)); n < 3 || n > 300 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "reason-required",
			"Cần nêu lý do xoá (3-300 ký tự), ví dụ số yêu cầu của hành khách. State why the account is erased (3-300 characters), e.g. the rider's request number.")
	}
	entry.Reason = req.Reason
	tomb := settlepg.NewTombstone()
	if entry.Actor == "" {
		entry.Actor = tomb
	}
	ctx := c.UserContext()
	var analytics func(context.Context) error
	if a := h.cfg.Erasure.Analytics; a != nil {
		analytics = func(ctx context.Context) error { return a(ctx, subject) }
	}
	res, err := h.cfg.Erasure.Store.Erase(ctx, subject, tomb, entry, analytics)
	var blocked *settlepg.ErasureBlocked
	switch {
	case errors.Is(err, ledger.ErrNoAccount):
		return authjwt.Problem(c, fiber.StatusNotFound, "no-account", "No vnpass account is linked to this subject.")
	case errors.As(err, &blocked):
		return c.Status(fiber.StatusConflict).JSON(fiber.Map{
			"type": "https://vnpass.vn/problems/erasure-blocked", "title": "erasure-blocked", "status": fiber.StatusConflict,
			"detail": "Chưa thể xoá: cần số dư bằng 0 và không còn nợ, huỷ liên kết ngân hàng/ví, không còn chuyến đi, lượt gửi xe hay khiếu nại đang mở. " +
				"Not yet: the balance must be zero with nothing owed, no bank or e-wallet linked, no open journey, parking stay or dispute.",
			"blocked_by": blocked.Reasons,
		}, "application/problem+json")
	case err != nil:
		return err
	}
	// Rows the exporter was sending while the transaction ran: deleted once
	// more (idempotent); a failure here is logged, the erasure stands.
	if a := h.cfg.Erasure.Analytics; a != nil {
		if err := a(ctx, subject); err != nil {
			h.cfg.Log.WarnContext(ctx, "second analytics erasure pass failed", "err", err)
		}
	}
	return c.JSON(fiber.Map{"erased": true, "tombstone": res.Tombstone, "rows": res.Rows})
}
