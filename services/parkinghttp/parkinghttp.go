// Package parkinghttp is the HTTP API of parking, mounted under /v1 of the
// accounts API (behind its JWT check): lots with their live occupancy per
// vehicle class, free spaces near a point (what a driver's app asks), tariff
// quotes explained row by row, month subscriptions bound to a plate and
// attendants' overrides recorded with the attendant's identity. Errors are
// RFC 7807 problems naming the parameter at fault.
package parkinghttp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/services/accounthttp"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/parkingpg"
)

// Store is what the API needs of the parking store (*parkingpg.Store).
type Store interface {
	Catalogue() *parking.Catalogue
	Occupancy(ctx context.Context) (map[string]parking.Occupancy, error)
	RecordOverride(ctx context.Context, o parkingpg.Override) (parkingpg.Override, error)
	BuySubscription(ctx context.Context, r parkingpg.SubscriptionRequest) (parking.Subscription, decimal.Decimal, error)
	Explain(ctx context.Context, id int64) (*parking.Session, *parking.Quote, error)
}

// Config of the routes.
type Config struct {
	Store Store
	Now   func() time.Time // the default time of a quote; time.Now if nil
}

// Routes returns the routes to mount under /v1 (accounthttp.Config.Routes):
//
//	GET  /v1/parking/lots                       every lot, capacity, occupancy and free spaces per class
//	GET  /v1/parking/lots/:lot
//	GET  /v1/parking/near?lat=&lon=[&class=][&radius_m=2000][&limit=10]   lots with free spaces, nearest first
//	GET  /v1/parking/quote?lot=&plate=|class=[&from=][&to=]              what a stay costs, and why
//	POST /v1/parking/subscriptions {"lot","plate","subject","idempotency_key"}   a rider for itself; an admin for anyone (audited)
//	GET  /v1/parking/sessions/:id                                         a session and why it cost what it did (a rider: its own; the lot's operator; admins)
//	POST /v1/parking/lots/:lot/overrides {"action","plate","subject","class","reason","waive","idempotency_key"}   the lot's operator, admins
//
// An operator's token must name its operator (claim operator) and reaches
// only its own lots: another operator's lot or session is "not found". A
// subscription is paid from the rider's balance, so operators do not sell
// them on a rider's account. Staff access to a rider's data is audited
// (accounthttp.Audited): reading a session needs X-Access-Reason.
func Routes(cfg Config) func(v1 fiber.Router) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handlers{cfg: cfg}
	return func(v1 fiber.Router) {
		v1.Get("/parking/lots", h.lots)
		v1.Get("/parking/lots/:lot", h.lot)
		v1.Get("/parking/near", h.near)
		v1.Get("/parking/quote", h.quote)
		v1.Post("/parking/subscriptions", h.subscribe)
		v1.Post("/parking/lots/:lot/overrides", h.override)
		v1.Get("/parking/sessions/:id", h.session)
	}
}

type handlers struct{ cfg Config }

// ClassSpaces is a lot's spaces for one class.
type ClassSpaces struct {
	Capacity int    `json:"capacity"`
	Occupied int    `json:"occupied"`
	Free     int    `json:"free"`
	Tariff   string `json:"tariff"`
}

// LotView is a lot as the API shows it.
type LotView struct {
	ID        string                        `json:"id"`
	Name      string                        `json:"name"`
	Operator  string                        `json:"operator"`
	City      string                        `json:"city"`
	Address   string                        `json:"address"`
	Lat       float64                       `json:"lat"`
	Lon       float64                       `json:"lon"`
	Hours     string                        `json:"hours"`
	OpenNow   bool                          `json:"open_now"`
	Classes   map[parking.Class]ClassSpaces `json:"classes"`
	DistanceM *int                          `json:"distance_m,omitempty"`
}

func view(l *parking.Lot, o parking.Occupancy, now time.Time) LotView {
	v := LotView{ID: l.ID, Name: l.Name, Operator: l.Operator, City: l.City, Address: l.Address, Lat: l.Lat, Lon: l.Lon,
		Hours: hhmm(l.Opens) + "-" + hhmm(l.Closes), OpenNow: l.OpenAt(now), Classes: map[parking.Class]ClassSpaces{}}
	for _, c := range parking.Classes {
		if l.Takes(c) {
			v.Classes[c] = ClassSpaces{Capacity: l.Capacity[c], Occupied: o[c], Free: l.Free(o, c), Tariff: l.Tariffs[c].ID}
		}
	}
	return v
}

func hhmm(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func (h *handlers) lots(c *fiber.Ctx) error {
	occ, err := h.cfg.Store.Occupancy(c.UserContext())
	if err != nil {
		return err
	}
	now := h.cfg.Now()
	var out []LotView
	for _, l := range h.cfg.Store.Catalogue().Lots() {
		out = append(out, view(l, occ[l.ID], now))
	}
	return c.JSON(fiber.Map{"lots": out})
}

func (h *handlers) lot(c *fiber.Ctx) error {
	l, ok := h.cfg.Store.Catalogue().Lot(c.Params("lot"))
	if !ok {
		return authjwt.Problem(c, fiber.StatusNotFound, "no-lot", "No parking lot with this id.")
	}
	occ, err := h.cfg.Store.Occupancy(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(view(l, occ[l.ID], h.cfg.Now()))
}

// distance is the great-circle distance in metres.
func distance(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371000
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}

func (h *handlers) near(c *fiber.Ctx) error {
	lat, err1 := strconv.ParseFloat(c.Query("lat"), 64)
	lon, err2 := strconv.ParseFloat(c.Query("lon"), 64)
	if err1 != nil || math.Abs(lat) > 90 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-lat", "lat must be a latitude in degrees, e.g. 21.0288.")
	}
	if err2 != nil || math.Abs(lon) > 180 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-lon", "lon must be a longitude in degrees, e.g. 105.8262.")
	}
	class := parking.Class(c.Query("class"))
	if class != "" && !class.Valid() {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-class", "class must be motorbike, car or large.")
	}
	radius, limit := 2000.0, 10
	if s := c.Query("radius_m"); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r <= 0 || r > 50000 {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-radius_m", "radius_m must be metres from 1 to 50000.")
		}
		radius = r
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-limit", "limit must be from 1 to 100.")
		}
		limit = n
	}
	occ, err := h.cfg.Store.Occupancy(c.UserContext())
	if err != nil {
		return err
	}
	now := h.cfg.Now()
	out := []LotView{}
	for _, l := range h.cfg.Store.Catalogue().Lots() {
		d := distance(lat, lon, l.Lat, l.Lon)
		if d > radius || !l.OpenAt(now) {
			continue
		}
		v := view(l, occ[l.ID], now)
		free := 0
		for cl, s := range v.Classes {
			if class == "" || cl == class {
				free += s.Free
			}
		}
		if free == 0 {
			continue
		}
		m := int(math.Round(d))
		v.DistanceM = &m
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return *out[i].DistanceM < *out[j].DistanceM })
	if len(out) > limit {
		out = out[:limit]
	}
	return c.JSON(fiber.Map{"lots": out})
}

func parseTime(s string) (time.Time, error) {
	// An unescaped "+07:00" in a query string arrives as " 07:00".
	return time.Parse(time.RFC3339, strings.Replace(s, " ", "+", 1))
}

func (h *handlers) quote(c *fiber.Ctx) error {
	l, ok := h.cfg.Store.Catalogue().Lot(c.Query("lot"))
	if !ok {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-lot", "lot must be a parking lot id, e.g. hnp-cat-linh.")
	}
	class := parking.Class(c.Query("class"))
	if p := c.Query("plate"); p != "" {
		cl, err := parking.ClassOf(p)
		if err != nil {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-plate", "plate is not a Vietnamese plate, e.g. 30A-123.45 or 29B1-123.45.")
		}
		class = cl
	}
	if !l.Takes(class) {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-class", "class (or plate) must be a vehicle class the lot takes: motorbike, car.")
	}
	to := h.cfg.Now()
	from := to
	var err error
	if s := c.Query("from"); s != "" {
		if from, err = parseTime(s); err != nil {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-from", "from must be an RFC 3339 time, e.g. 2026-11-24T07:30:00+07:00.")
		}
	}
	if s := c.Query("to"); s != "" {
		if to, err = parseTime(s); err != nil {
			return authjwt.Problem(c, fiber.StatusBadRequest, "bad-to", "to must be an RFC 3339 time, e.g. 2026-11-24T09:30:00+07:00.")
		}
	}
	q, err := l.Tariffs[class].Quote(from, to, nil)
	if err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-to", "to must not be before from.")
	}
	return c.JSON(fiber.Map{"lot": l.ID, "quote": quoteView(q)})
}

// QuoteView is a quote on the wire: amounts in integer dong.
type QuoteView struct {
	Tariff    string     `json:"tariff"`
	Class     string     `json:"class"`
	From      time.Time  `json:"from"`
	To        time.Time  `json:"to"`
	AmountVND int64      `json:"amount_vnd"`
	Text      string     `json:"text"`
	Steps     []StepView `json:"steps"`
}

// StepView is one step of a quote: the data row that decided it.
type StepView struct {
	Rule      string `json:"rule"`
	VI        string `json:"vi"`
	EN        string `json:"en"`
	AmountVND int64  `json:"amount_vnd"`
}

func quoteView(q parking.Quote) QuoteView {
	v := QuoteView{Tariff: q.Tariff, Class: string(q.Class), From: q.From, To: q.To, AmountVND: q.Amount.IntPart(),
		Text: money.Format(q.Amount), Steps: []StepView{}}
	for _, s := range q.Steps {
		v.Steps = append(v.Steps, StepView{Rule: s.Rule, VI: s.VI, EN: s.EN, AmountVND: s.Amount.IntPart()})
	}
	return v
}

func (h *handlers) subscribe(c *fiber.Ctx) error {
	var req struct {
		Lot     string `json:"lot"`
		Plate   string `json:"plate"`
		Subject string `json:"subject"`
		Key     string `json:"idempotency_key"`
	}
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-body", "The body must be JSON: lot, plate, subject, idempotency_key.")
	}
	cl := authjwt.Caller(c)
	switch cl.Role {
	case authjwt.RoleRider:
		if req.Subject != "" && req.Subject != cl.Subject {
			return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "A rider may buy subscriptions for itself only.")
		}
		req.Subject = cl.Subject
	case authjwt.RoleAdmin:
		// A service counter selling on the rider's account: audited, with
		// the purpose stated (X-Access-Reason).
		if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "parking.subscription.buy", Rider: req.Subject}); !ok {
			return err
		}
	default:
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Subscriptions are bought by the rider (or an admin at a service counter).")
	}
	sub, price, err := h.cfg.Store.BuySubscription(c.UserContext(), parkingpg.SubscriptionRequest{Lot: req.Lot, Subject: req.Subject, Plate: req.Plate, Key: req.Key})
	switch {
	case errors.Is(err, parkingpg.ErrUnknownLot):
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-lot", "lot must be a parking lot id, e.g. hnp-cat-linh.")
	case errors.Is(err, parkingpg.ErrInvalid):
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", "plate (a Vietnamese plate), subject and idempotency_key are required.")
	case errors.Is(err, parkingpg.ErrNoTariff):
		return authjwt.Problem(c, fiber.StatusUnprocessableEntity, "no-subscription", "This lot sells no month subscription for that vehicle class.")
	case errors.Is(err, ledger.ErrNoAccount):
		return authjwt.Problem(c, fiber.StatusNotFound, "no-account", "No vnpass account for this subject.")
	case errors.Is(err, ledger.ErrInsufficientFunds):
		return authjwt.Problem(c, fiber.StatusUnprocessableEntity, "insufficient-funds", "The balance does not cover the subscription.")
	case errors.Is(err, parkingpg.ErrKeyConflict):
		return authjwt.Problem(c, fiber.StatusConflict, "key-conflict", "idempotency_key was used for another subscription.")
	case err != nil:
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": sub.ID, "lot": req.Lot, "plate": sub.Plate, "tariff": sub.Tariff,
		"valid_from": sub.From, "valid_until": sub.Until, "price_vnd": price.IntPart()})
}

func (h *handlers) override(c *fiber.Ctx) error {
	cl := authjwt.Caller(c)
	if cl.Role != authjwt.RoleAdmin && cl.Role != authjwt.RoleOperator {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only lot staff may open a barrier by hand.")
	}
	if cl.Subject == "" {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "The token names no attendant (sub).")
	}
	if cl.Role == authjwt.RoleOperator {
		if cl.Operator == "" {
			return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "An operator's token must name its operator (claim operator).")
		}
		if l, ok := h.cfg.Store.Catalogue().Lot(c.Params("lot")); !ok || l.Operator != cl.Operator {
			return authjwt.Problem(c, fiber.StatusNotFound, "no-lot", "No parking lot with this id.")
		}
	}
	var req parkingpg.Override
	if err := c.BodyParser(&req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-body", "The body must be JSON: action, plate, reason, idempotency_key.")
	}
	req.Lot, req.Attendant, req.Role = c.Params("lot"), cl.Subject, string(cl.Role)
	o, err := h.cfg.Store.RecordOverride(c.UserContext(), req)
	switch {
	case errors.Is(err, parkingpg.ErrUnknownLot):
		return authjwt.Problem(c, fiber.StatusNotFound, "no-lot", "No parking lot with this id.")
	case errors.Is(err, parkingpg.ErrInvalid):
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", "action (entry or exit), plate, reason and idempotency_key are required; an entry of a plate that does not tell its class needs class.")
	case errors.Is(err, parkingpg.ErrNoSession):
		return authjwt.Problem(c, fiber.StatusNotFound, "no-session", "No vehicle with that plate is parked in this lot.")
	case errors.Is(err, parkingpg.ErrNoTariff):
		return authjwt.Problem(c, fiber.StatusUnprocessableEntity, "no-tariff", "The lot takes no vehicles of that class.")
	case errors.Is(err, parkingpg.ErrKeyConflict):
		return authjwt.Problem(c, fiber.StatusConflict, "key-conflict", "idempotency_key was used for another override.")
	case err != nil:
		return err
	}
	out := fiber.Map{"id": o.ID, "lot": o.Lot, "action": o.Action, "subject": o.Subject, "plate": o.Plate, "reason": o.Reason,
		"waived": o.Waive, "attendant": o.Attendant, "role": o.Role, "session": o.Session, "fee_vnd": o.Fee.IntPart(), "at": o.At}
	if o.Quote != nil {
		out["quote"] = quoteView(*o.Quote)
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

// session shows a session with the quote that explains its fee. A rider
// reads only its own: another's is "not found", so ids cannot be probed.
func (h *handlers) session(c *fiber.Ctx) error {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-id", "id must be a parking session id, a positive whole number.")
	}
	cl := authjwt.Caller(c)
	if cl.Role == authjwt.RoleOperator && cl.Operator == "" {
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "An operator's token must name its operator (claim operator).")
	}
	ses, q, err := h.cfg.Store.Explain(c.UserContext(), id)
	mayRead := cl.Role == authjwt.RoleAdmin || (ses != nil && cl.Role == authjwt.RoleOperator && h.lotOperator(ses.Lot) == cl.Operator) ||
		(ses != nil && cl.Role == authjwt.RoleRider && cl.Subject != "" && cl.Subject == ses.Subject)
	if errors.Is(err, parkingpg.ErrNoSessionID) || (err == nil && !mayRead) {
		return authjwt.Problem(c, fiber.StatusNotFound, "no-session", "No parking session with this id.")
	}
	if err != nil {
		return err
	}
	if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "parking.session.read", Rider: ses.Subject}); !ok {
		return err
	}
	out := fiber.Map{"id": ses.ID, "lot": ses.Lot, "plate": ses.Plate, "class": ses.Class, "tariff": ses.Tariff,
		"entry_at": ses.EntryAt, "open": ses.Open, "rule": ses.Rule}
	if !ses.Open {
		out["exit_at"], out["fee_vnd"], out["fee_text"] = ses.ExitAt, ses.Fee.IntPart(), money.Format(ses.Fee)
	}
	if q != nil {
		out["quote"] = quoteView(*q)
	}
	return c.JSON(out)
}

// lotOperator is the operator of a lot ("" for an unknown lot).
func (h *handlers) lotOperator(lot string) string {
	if l, ok := h.cfg.Store.Catalogue().Lot(lot); ok {
		return l.Operator
	}
	return ""
}
