// Package dashhttp is the operators' dashboard: JSON under /v1/dashboard
// (behind the accounts API's JWT check) read from the ClickHouse aggregates
// (entries and exits per station per 15 minutes, journeys per origin,
// destination and hour with their fares, parking flow per lot and hour),
// the parking store's live occupancy and, when configured, the fleet
// service's live device view; and the page that draws them (/dashboard/).
//
// Scope: an admin sees everything; an operator's token must carry an
// operator claim (authjwt.Claims.Operator) and sees only that operator's
// lines (fare data networks.operator_id) and lots (parking data
// lots.operator_id). A line or lot of another operator answers 404, as if
// it did not exist. Riders see nothing.
//
// Disputes: /v1/dashboard/disputes lists the open disputes on the caller's
// lines and lots (Config.Disputes says which line or lot each charge is
// on), the rider by a short reference only; the page resolves them through
// riderhttp's POST /v1/disputes/:id/resolution.
package dashhttp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/services/accounthttp"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/ridershipch"
)

// Aggregates is what the dashboard reads of ClickHouse (*ridershipch.Sink).
type Aggregates interface {
	StationActivity(ctx context.Context, from, to time.Time, sites ridershipch.Filter) ([]ridershipch.StationSlot, error)
	Journeys(ctx context.Context, from, to time.Time, networks ridershipch.Filter) ([]ridershipch.JourneyCell, error)
	ParkingFlow(ctx context.Context, from, to time.Time, lots ridershipch.Filter) ([]ridershipch.ParkingHour, error)
}

// Config wires the dashboard.
type Config struct {
	Aggregates Aggregates
	Fares      *fare.Set
	Lots       []*parking.Lot
	// Occupancy is the parking store's live occupancy per lot; nil: none.
	Occupancy func(ctx context.Context) (map[string]parking.Occupancy, error)
	// FleetURL is vnpass-fleet's API; "" leaves the device panel out.
	// FleetToken signs the call (the fleet shares the platform's secret).
	FleetURL   string
	FleetToken func() (string, error)
	HTTP       *http.Client
	Now        func() time.Time
	// Disputes lists the open disputes with the line or lot of each
	// charge (the dispute queue of riderhttp does not say); nil: none.
	Disputes func(ctx context.Context) ([]Dispute, error)
}

// Dispute is one open dispute as the dashboard reads it: the charge and
// what scopes it (a journey's line and operator, a parking session's lot).
type Dispute struct {
	ID         int64
	Kind       string
	ChargeID   int64
	ChargedVND int64
	Reason     string
	CreatedAt  time.Time
	Subject    string
	Line       string // a journey's network id
	Operator   string // a journey's operator id
	Lot        string // a parking session's lot id
}

type line struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Operator string    `json:"operator_id"`
	Stations []station `json:"stations"`
}

type station struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type lot struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Operator string         `json:"operator_id"`
	Capacity map[string]int `json:"capacity"`
}

// scope is what one caller may see.
type scope struct {
	operator string // "" for an admin
	lines    []line
	lots     []lot
}

func (s scope) sites(lineID string) ridershipch.Filter {
	out := ridershipch.Filter{}
	for _, l := range s.lines {
		if lineID == "" || l.ID == lineID {
			for _, st := range l.Stations {
				out = append(out, st.ID)
			}
		}
	}
	return out
}

func (s scope) networks(lineID string) ridershipch.Filter {
	out := ridershipch.Filter{}
	for _, l := range s.lines {
		if lineID == "" || l.ID == lineID {
			out = append(out, l.ID)
		}
	}
	return out
}

func (s scope) lotIDs() ridershipch.Filter {
	out := ridershipch.Filter{}
	for _, l := range s.lots {
		out = append(out, l.ID)
	}
	return out
}

type handlers struct {
	cfg   Config
	lines []line
	lots  []lot
}

// Routes mounts /v1/dashboard/... on the accounts API's /v1 group.
func Routes(cfg Config) func(fiber.Router) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	h := &handlers{cfg: cfg}
	byNet := map[string]*line{}
	var order []string
	for _, st := range cfg.Fares.Stops() {
		l := byNet[st.NetworkID]
		if l == nil {
			n, _ := cfg.Fares.Network(st.NetworkID)
			l = &line{ID: st.NetworkID, Name: n.Name, Operator: n.OperatorID}
			byNet[st.NetworkID] = l
			order = append(order, st.NetworkID)
		}
		l.Stations = append(l.Stations, station{ID: st.ID, Name: st.Name})
	}
	sort.Strings(order)
	for _, id := range order {
		h.lines = append(h.lines, *byNet[id])
	}
	for _, l := range cfg.Lots {
		c := map[string]int{}
		for cl, n := range l.Capacity {
			if n > 0 {
				c[string(cl)] = n
			}
		}
		h.lots = append(h.lots, lot{ID: l.ID, Name: l.Name, Operator: l.Operator, Capacity: c})
	}
	return func(v1 fiber.Router) {
		g := v1.Group("/dashboard")
		g.Get("/scope", h.scope)
		g.Get("/stations", h.stations)
		g.Get("/od", h.od)
		g.Get("/revenue", h.revenue)
		g.Get("/parking", h.parking)
		g.Get("/devices", h.devices)
		g.Get("/disputes", h.disputes)
	}
}

// scopeOf answers the caller's scope, or writes the refusal.
func (h *handlers) scopeOf(c *fiber.Ctx) (scope, bool, error) {
	cl := authjwt.Caller(c)
	switch {
	case cl.Role == authjwt.RoleAdmin:
		return scope{lines: h.lines, lots: h.lots}, true, nil
	case cl.Role == authjwt.RoleOperator && cl.Operator != "":
		s := scope{operator: cl.Operator}
		for _, l := range h.lines {
			if l.Operator == cl.Operator {
				s.lines = append(s.lines, l)
			}
		}
		for _, l := range h.lots {
			if l.Operator == cl.Operator {
				s.lots = append(s.lots, l)
			}
		}
		return s, true, nil
	case cl.Role == authjwt.RoleOperator:
		return scope{}, false, authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "The dashboard needs a token scoped to an operator.")
	default:
		return scope{}, false, authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Only operators may read the dashboard.")
	}
}

// day reads ?day=YYYY-MM-DD (local, Asia/Ho_Chi_Minh; default today).
func (h *handlers) day(c *fiber.Ctx) (time.Time, time.Time, bool, error) {
	d := c.Query("day")
	var t time.Time
	if d == "" {
		n := h.cfg.Now().In(fare.Zone)
		t = time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, fare.Zone)
	} else {
		var err error
		if t, err = time.ParseInLocation("2006-01-02", d, fare.Zone); err != nil {
			return t, t, false, authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", "day must be YYYY-MM-DD.")
		}
	}
	return t, t.AddDate(0, 0, 1), true, nil
}

// lineParam reads ?line=; a line outside the scope is not found.
func lineParam(c *fiber.Ctx, s scope) (string, bool, error) {
	id := c.Query("line")
	if id == "" {
		return "", true, nil
	}
	for _, l := range s.lines {
		if l.ID == id {
			return id, true, nil
		}
	}
	return "", false, authjwt.Problem(c, fiber.StatusNotFound, "not-found", "No such line.")
}

func (h *handlers) scope(c *fiber.Ctx) error {
	s, ok, err := h.scopeOf(c)
	if !ok {
		return err
	}
	return c.JSON(fiber.Map{"operator_id": s.operator, "lines": orEmpty(s.lines), "lots": orEmpty(s.lots),
		"fleet": h.cfg.FleetURL != "", "zone": fare.Zone.String()})
}

func orEmpty[T any](x []T) []T {
	if x == nil {
		return []T{}
	}
	return x
}

func (h *handlers) stations(c *fiber.Ctx) error {
	s, ok, err := h.scopeOf(c)
	if !ok {
		return err
	}
	lineID, ok, err := lineParam(c, s)
	if !ok {
		return err
	}
	from, to, ok, err := h.day(c)
	if !ok {
		return err
	}
	rows, err := h.cfg.Aggregates.StationActivity(c.UserContext(), from, to, s.sites(lineID))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"day": from.Format("2006-01-02"), "slot_minutes": 15, "slots": orEmpty(rows)})
}

func (h *handlers) od(c *fiber.Ctx) error {
	s, ok, err := h.scopeOf(c)
	if !ok {
		return err
	}
	lineID, ok, err := lineParam(c, s)
	if !ok {
		return err
	}
	from, to, ok, err := h.day(c)
	if !ok {
		return err
	}
	rows, err := h.cfg.Aggregates.Journeys(c.UserContext(), from, to, s.networks(lineID))
	if err != nil {
		return err
	}
	type cell struct {
		Line     string `json:"line"`
		From     string `json:"from"`
		To       string `json:"to"`
		Journeys uint64 `json:"journeys"`
	}
	sum := map[[3]string]uint64{}
	for _, r := range rows {
		sum[[3]string{r.NetworkID, r.EntrySite, r.ExitSite}] += r.Journeys
	}
	out := []cell{}
	for k, n := range sum {
		out = append(out, cell{k[0], k[1], k[2], n})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Line+out[i].From+out[i].To < out[j].Line+out[j].From+out[j].To
	})
	return c.JSON(fiber.Map{"day": from.Format("2006-01-02"), "cells": out})
}

func (h *handlers) revenue(c *fiber.Ctx) error {
	s, ok, err := h.scopeOf(c)
	if !ok {
		return err
	}
	from, to, ok, err := h.day(c)
	if !ok {
		return err
	}
	rows, err := h.cfg.Aggregates.Journeys(c.UserContext(), from, to, s.networks(""))
	if err != nil {
		return err
	}
	type hourRow struct {
		Hour     time.Time `json:"hour"`
		Journeys uint64    `json:"journeys"`
		FareVND  int64     `json:"fare_vnd"`
	}
	type lineRow struct {
		Line     string    `json:"line"`
		Operator string    `json:"operator_id"`
		Journeys uint64    `json:"journeys"`
		FareVND  int64     `json:"fare_vnd"`
		Hours    []hourRow `json:"hours"`
	}
	byLine := map[string]*lineRow{}
	var ids []string
	for _, r := range rows {
		l := byLine[r.NetworkID]
		if l == nil {
			l = &lineRow{Line: r.NetworkID, Operator: r.OperatorID}
			byLine[r.NetworkID] = l
			ids = append(ids, r.NetworkID)
		}
		l.Journeys += r.Journeys
		l.FareVND += r.FareVND
		if n := len(l.Hours); n > 0 && l.Hours[n-1].Hour.Equal(r.Hour) {
			l.Hours[n-1].Journeys += r.Journeys
			l.Hours[n-1].FareVND += r.FareVND
		} else {
			l.Hours = append(l.Hours, hourRow{r.Hour, r.Journeys, r.FareVND})
		}
	}
	out := []lineRow{}
	for _, id := range ids {
		out = append(out, *byLine[id])
	}
	return c.JSON(fiber.Map{"day": from.Format("2006-01-02"), "lines": out})
}

func (h *handlers) parking(c *fiber.Ctx) error {
	s, ok, err := h.scopeOf(c)
	if !ok {
		return err
	}
	from, to, ok, err := h.day(c)
	if !ok {
		return err
	}
	flow, err := h.cfg.Aggregates.ParkingFlow(c.UserContext(), from, to, s.lotIDs())
	if err != nil {
		return err
	}
	occ := map[string]parking.Occupancy{}
	if h.cfg.Occupancy != nil && len(s.lots) > 0 {
		if occ, err = h.cfg.Occupancy(c.UserContext()); err != nil {
			return err
		}
	}
	type lotRow struct {
		lot
		Occupied map[string]int            `json:"occupied"`
		Hours    []ridershipch.ParkingHour `json:"hours"`
	}
	out := []lotRow{}
	for _, l := range s.lots {
		r := lotRow{lot: l, Occupied: map[string]int{}, Hours: []ridershipch.ParkingHour{}}
		for cl, n := range occ[l.ID] {
			r.Occupied[string(cl)] = n
		}
		for _, f := range flow {
			if f.Lot == l.ID {
				r.Hours = append(r.Hours, f)
			}
		}
		out = append(out, r)
	}
	return c.JSON(fiber.Map{"day": from.Format("2006-01-02"), "lots": out})
}

// devices is the fleet's live view of the caller's gates and barriers:
// offline ones and queue depths.
func (h *handlers) devices(c *fiber.Ctx) error {
	s, ok, err := h.scopeOf(c)
	if !ok {
		return err
	}
	if h.cfg.FleetURL == "" {
		return authjwt.Problem(c, fiber.StatusNotFound, "not-found", "No fleet service is configured.")
	}
	tok, err := h.cfg.FleetToken()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(c.UserContext(), "GET", strings.TrimRight(h.cfg.FleetURL, "/")+"/v1/devices", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := h.cfg.HTTP.Do(req)
	if err != nil {
		return authjwt.Problem(c, fiber.StatusBadGateway, "fleet-unavailable", "The fleet service did not answer.")
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return authjwt.Problem(c, fiber.StatusBadGateway, "fleet-unavailable", fmt.Sprintf("The fleet service answered %d.", resp.StatusCode))
	}
	var body struct {
		Devices []map[string]any `json:"devices"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return authjwt.Problem(c, fiber.StatusBadGateway, "fleet-unavailable", "The fleet service's answer did not decode.")
	}
	mine := map[string]bool{}
	for _, id := range s.sites("") {
		mine[id] = true
	}
	for _, id := range s.lotIDs() {
		mine[id] = true
	}
	out := []map[string]any{}
	offline, queued := 0, 0
	for _, d := range body.Devices {
		site, _ := d["site"].(string)
		if s.operator != "" && !mine[site] {
			continue
		}
		dev := map[string]any{"site": site, "device": d["device"], "kind": d["kind"], "state": d["state"],
			"overdue": d["overdue"], "queue_depth": d["queue_depth"], "silent_s": d["silent_s"]}
		if d["state"] != "online" || d["overdue"] == true {
			offline++
		}
		if q, ok := d["queue_depth"].(float64); ok {
			queued += int(q)
		}
		out = append(out, dev)
	}
	return c.JSON(fiber.Map{"devices": out, "offline": offline, "queued": queued})
}

// riderRef is a short reference to a rider for the operator's eyes: a
// prefix of a hash of the subject, never the subject itself.
func riderRef(subject string) string {
	h := sha256.Sum256([]byte("vnpass-dashboard-rider:" + subject))
	return "R-" + strings.ToUpper(hex.EncodeToString(h[:4]))
}

// disputes is the open disputes on the caller's lines and lots, oldest
// first; they are resolved through POST /v1/disputes/:id/resolution.
func (h *handlers) disputes(c *fiber.Ctx) error {
	s, ok, err := h.scopeOf(c)
	if !ok {
		return err
	}
	type row struct {
		ID         int64  `json:"id"`
		Kind       string `json:"kind"`
		ChargeID   int64  `json:"charge_id"`
		ChargedVND int64  `json:"charged_vnd"`
		Reason     string `json:"reason"`
		CreatedAt  string `json:"created_at"`
		AgeS       int64  `json:"age_s"`
		Rider      string `json:"rider"`
		Where      string `json:"where"`
		WhereName  string `json:"where_name"`
	}
	out := []row{}
	if h.cfg.Disputes == nil {
		return c.JSON(fiber.Map{"disputes": out})
	}
	// The queue shows riders' own words about their charges: an access to
	// personal data, recorded like any other (SECURITY.md), its purpose
	// being the queue itself.
	if ok, err := accounthttp.Audited(c, accounthttp.Access{Action: "disputes.queue",
		Reason: "hàng đợi khiếu nại trên bảng điều khiển / dispute queue on the dashboard"}); !ok {
		return err
	}
	ds, err := h.cfg.Disputes(c.UserContext())
	if err != nil {
		return err
	}
	lines, lots := map[string]string{}, map[string]string{}
	for _, l := range s.lines {
		lines[l.ID] = l.Name
	}
	for _, l := range s.lots {
		lots[l.ID] = l.Name
	}
	now := h.cfg.Now()
	for _, d := range ds {
		r := row{ID: d.ID, Kind: d.Kind, ChargeID: d.ChargeID, ChargedVND: d.ChargedVND, Reason: d.Reason,
			CreatedAt: d.CreatedAt.In(fare.Zone).Format(time.RFC3339), AgeS: int64(now.Sub(d.CreatedAt).Seconds()), Rider: riderRef(d.Subject)}
		switch {
		case d.Lot != "":
			name, mine := lots[d.Lot]
			if !mine && s.operator != "" {
				continue
			}
			r.Where, r.WhereName = d.Lot, name
		case d.Line != "":
			name, mine := lines[d.Line]
			if !mine && s.operator != "" && d.Operator != s.operator {
				continue
			}
			r.Where, r.WhereName = d.Line, name
		default:
			if s.operator != "" { // nothing says whose it is: admins only
				continue
			}
		}
		if r.AgeS < 0 {
			r.AgeS = 0
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return c.JSON(fiber.Map{"disputes": out})
}
