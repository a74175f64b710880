package accounthttp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/settlepg"
)

// Auditor appends to the audit log of staff access to personal data
// (*settlepg.Store).
type Auditor interface {
	Audit(ctx context.Context, e settlepg.AuditEntry) error
}

// AuditReader reads the audit log (*settlepg.Store).
type AuditReader interface {
	AuditLog(ctx context.Context, f settlepg.AuditFilter) ([]settlepg.AuditEntry, error)
}

// ReasonHeader carries the purpose of a staff read of a rider's personal
// data (3-300 characters; UTF-8, or percent-encoded UTF-8).
const ReasonHeader = "X-Access-Reason"

// RequestIDHeader is echoed (or generated) and recorded with each audit entry.
const RequestIDHeader = "X-Request-ID"

const (
	auditorKey   = "vnpass.auditor"
	requestIDKey = "vnpass.request-id"
)

// UseAuditor makes a the auditor of the requests it guards (New mounts it
// on /v1 when Config.Audit is set; tests mounting routes alone use it too);
// a failed write is logged to log (nil: slog.Default()).
func UseAuditor(a Auditor, log *slog.Logger) fiber.Handler {
	if log == nil {
		log = slog.Default()
	}
	au := boundAuditor{a, log}
	return func(c *fiber.Ctx) error {
		c.Locals(auditorKey, au)
		return c.Next()
	}
}

type boundAuditor struct {
	Auditor
	log *slog.Logger
}

// Staff reports whether the caller is staff (admin, operator, committee):
// whose reads of a rider's data are audited.
func Staff(cl authjwt.Claims) bool {
	return cl.Role == authjwt.RoleAdmin || cl.Role == authjwt.RoleOperator || cl.Role == authjwt.RoleCommittee
}

// requestID is the caller's X-Request-ID (if short and printable) or a new one.
func requestID(c *fiber.Ctx) string {
	if id, ok := c.Locals(requestIDKey).(string); ok {
		return id
	}
	id := c.Get(RequestIDHeader)
	if len(id) == 0 || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		var b [12]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Locals(requestIDKey, id)
	c.Set(RequestIDHeader, id)
	return id
}

// Reason reads the purpose from X-Access-Reason: "" when missing or not
// 3-300 characters.
func Reason(c *fiber.Ctx) string {
	r := c.Get(ReasonHeader)
	if strings.Contains(r, "%") {
		if d, err := url.QueryUnescape(r); err == nil {
			r = d
		}
	}
	r = strings.TrimSpace(r)
	if n := len([]rune(r)); n < 3 || n > 300 {
		return ""
	}
	return r
}

// Access is one access to a rider's personal data to audit.
type Access struct {
	Action   string // "account.read", "journey.refund", ...
	Rider    string // the rider's subject; "" for a list of many riders
	Reason   string // the purpose; "" reads X-Access-Reason, which is then required
	Resource string // "" is the request path
}

// Audited records a staff caller's access before the data is read or
// changed. It returns false when it wrote the answer: 400 when the purpose
// is missing, 503 when the access cannot be recorded (nothing is read that
// is not audited). A rider reading its own data is not audited.
func Audited(c *fiber.Ctx, a Access) (bool, error) {
	cl := authjwt.Caller(c)
	if !Staff(cl) {
		return true, nil
	}
	if a.Reason == "" {
		if a.Reason = Reason(c); a.Reason == "" {
			return false, authjwt.Problem(c, fiber.StatusBadRequest, "reason-required",
				"Cần nêu mục đích truy cập dữ liệu cá nhân của hành khách trong tiêu đề "+ReasonHeader+" (3-300 ký tự). "+
					"State the purpose of reading a rider's personal data in the "+ReasonHeader+" header (3-300 characters).")
		}
	}
	au, ok := c.Locals(auditorKey).(boundAuditor)
	if !ok || au.Auditor == nil {
		return false, authjwt.Problem(c, fiber.StatusServiceUnavailable, "audit-unavailable",
			"Không ghi được nhật ký truy cập; thử lại sau. The access could not be recorded; try again later.")
	}
	if a.Resource == "" {
		a.Resource = c.Path()
	}
	err := au.Audit(c.UserContext(), settlepg.AuditEntry{Actor: cl.Subject, Role: string(cl.Role), Operator: cl.Operator,
		City: cl.City, Action: a.Action, Resource: a.Resource, Rider: a.Rider, Reason: a.Reason, RequestID: requestID(c)})
	if err != nil {
		au.log.ErrorContext(c.UserContext(), "audit write failed; access refused", "action", a.Action, "err", err)
		return false, authjwt.Problem(c, fiber.StatusServiceUnavailable, "audit-unavailable",
			"Không ghi được nhật ký truy cập; thử lại sau. The access could not be recorded; try again later.")
	}
	return true, nil
}

// auditLog: GET /v1/audit[?rider=&actor=&before=&limit=] (admins; the read
// is itself audited).
func (h *handlers) auditLog(c *fiber.Ctx) error {
	if authjwt.Caller(c).Role != authjwt.RoleAdmin {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only admins may read the audit log.")
	}
	f := settlepg.AuditFilter{Rider: c.Query("rider"), Actor: c.Query("actor"), Limit: 100}
	if f.Rider != "" && !subjectRE.MatchString(f.Rider) {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-rider", "rider must be a subject: 1-64 characters of A-Z, a-z, 0-9, '_' or '-'.")
	}
	if len(f.Actor) > 200 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-actor", "actor must be at most 200 characters.")
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-limit", "limit must be a whole number from 1 to 500.")
		}
		f.Limit = n
	}
	if s := c.Query("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-before", "before must be an audit entry id.")
		}
		f.Before = n
	}
	if ok, err := Audited(c, Access{Action: "audit.read", Rider: f.Rider}); !ok {
		return err
	}
	es, err := h.cfg.AuditLog.AuditLog(c.UserContext(), f)
	if err != nil {
		return err
	}
	res := fiber.Map{"entries": es}
	if len(es) == f.Limit {
		res["next_before"] = es[len(es)-1].ID
	}
	return c.JSON(res)
}
