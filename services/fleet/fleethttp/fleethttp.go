// Package fleethttp is the operators' HTTP API of the fleet: the live view of
// every device (state, heartbeat, queue, software, clock, offline decisions,
// config applied) and config pushes, on fiber with JWT roles. Operators and
// admins read; only admins push. Every error is an RFC 7807 problem.
package fleethttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/fleet"
)

// Pusher sends a config to its device (fleetmqtt.Watcher).
type Pusher interface {
	Push(ctx context.Context, c proto.Config) error
}

// Config of the API.
type Config struct {
	Fleet  *fleet.Fleet
	Pusher Pusher
	Auth   *authjwt.Issuer
	// Ready reports whether the view is being kept up to date (the broker
	// link is up).
	Ready func() error
	// Metrics writes the Prometheus text exposition.
	Metrics func(now time.Time) string
	// MetricsToken, when set, is the bearer token /metrics asks for
	// (authjwt.ScrapeToken); empty leaves it open.
	MetricsToken string
	Now          func() time.Time
	Log          *slog.Logger
}

// New builds the fiber app.
func New(cfg Config) *fiber.App {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	app := fiber.New(fiber.Config{
		// A config may carry a deny list of up to proto.MaxConfigSize.
		BodyLimit:             proto.MaxConfigSize + 64<<10,
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
	v1 := app.Group("/v1", cfg.Auth.Middleware())
	v1.Get("/devices", h.list)
	v1.Get("/devices/:site/:device", h.get)
	v1.Post("/devices/:site/:device/config", h.push)
	v1.Post("/sites/:site/config", h.pushSite)
	return app
}

type handlers struct{ cfg Config }

func (h *handlers) health(c *fiber.Ctx) error {
	if h.cfg.Ready != nil {
		if err := h.cfg.Ready(); err != nil {
			return authjwt.Problem(c, fiber.StatusServiceUnavailable, "not-ready", "The fleet view is not connected to the broker.")
		}
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

func (h *handlers) metrics(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4")
	if h.cfg.Metrics == nil {
		return c.SendString("")
	}
	return c.SendString(h.cfg.Metrics(h.cfg.Now()))
}

// mayRead: admins and operators; riders see no devices.
func mayRead(c *fiber.Ctx) bool {
	r := authjwt.Caller(c).Role
	return r == authjwt.RoleAdmin || r == authjwt.RoleOperator
}

func forbidden(c *fiber.Ctx, what string) error {
	return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "You may not "+what+".")
}

// DeviceJSON is a device as the API shows it.
type DeviceJSON struct {
	Site     string      `json:"site"`
	Device   string      `json:"device"`
	Kind     proto.Kind  `json:"kind,omitempty"`
	State    proto.State `json:"state,omitempty"` // empty: no status seen yet
	Software string      `json:"software,omitempty"`
	// StatusAt is the time in the latest status, by the device's clock.
	StatusAt      *time.Time `json:"status_at,omitempty"`
	LastHeartbeat *time.Time `json:"last_heartbeat,omitempty"`
	SilentS       *float64   `json:"silent_s,omitempty"` // seconds since the last heartbeat
	HeartbeatS    int        `json:"heartbeat_s"`        // the device's interval; 0: status only on changes
	Overdue       bool       `json:"overdue"`
	QueueDepth    int        `json:"queue_depth"`
	// ClockOffsetMS is the cloud's clock minus the device's.
	ClockOffsetMS  *int64     `json:"clock_offset_ms,omitempty"`
	ClockSource    string     `json:"clock_source,omitempty"` // device or fleet: who measured it
	OfflineOpened  int64      `json:"offline_opened"`
	OfflineRefused int64      `json:"offline_refused"`
	Config         ConfigJSON `json:"config"`
}

// ConfigJSON is the config pushed to a device and what it applies.
type ConfigJSON struct {
	AppliedVersion int64 `json:"applied_version"` // the newest its statuses reported; 0: none
	// Pushed is the latest config pushed, absent if none.
	Pushed  *proto.Config `json:"pushed,omitempty"`
	Acked   bool          `json:"acked"`
	AckedAt *time.Time    `json:"acked_at,omitempty"`
	// The deny list the device applies, and whether it is the pushed one.
	DenyListVersion int64      `json:"deny_list_version"`
	DenyListAcked   bool       `json:"deny_list_acked"`
	DenyListAckedAt *time.Time `json:"deny_list_acked_at,omitempty"`
	// The ticket list a rail gate applies (absent: none, not a rail gate).
	TicketsVersion int64 `json:"tickets_version,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// show renders d at now. The pushed deny list and ticket list are
// summarised (version, issue time), not listed: they may hold thousands
// of subjects.
func show(d fleet.Device, now time.Time) DeviceJSON {
	j := DeviceJSON{
		Site: d.Site, Device: d.Device, Kind: d.Kind,
		State: d.Status.State, Software: d.Status.Software,
		StatusAt: timePtr(d.Status.At.Time), LastHeartbeat: timePtr(d.LastHeartbeat),
		HeartbeatS: d.Status.HeartbeatS, Overdue: d.Overdue(now), QueueDepth: d.Status.QueueDepth,
		OfflineOpened: d.Status.OfflineOpened, OfflineRefused: d.Status.OfflineRefused,
		Config: ConfigJSON{
			AppliedVersion: d.AppliedConfig, DenyListVersion: d.AppliedDenyList, TicketsVersion: d.AppliedTickets,
			Acked: d.Acked(), DenyListAcked: d.DenyListAcked(),
		},
	}
	if !d.LastHeartbeat.IsZero() {
		s := now.Sub(d.LastHeartbeat).Seconds()
		j.SilentS = &s
	}
	if d.ClockKnown {
		ms := d.ClockOffset.Milliseconds()
		j.ClockOffsetMS, j.ClockSource = &ms, d.ClockSource
	}
	if p := d.Config; p != nil {
		c := p.Config
		if c.DenyList != nil {
			c.DenyList = &proto.DenyList{Version: c.DenyList.Version, IssuedAt: c.DenyList.IssuedAt}
		}
		if l := c.Tickets; l != nil {
			c.Tickets = &proto.TicketList{Version: l.Version, IssuedAt: l.IssuedAt, Station: l.Station, From: l.From, Until: l.Until,
				AdmitBeforeS: l.AdmitBeforeS, AdmitAfterS: l.AdmitAfterS}
		}
		j.Config.Pushed = &c
		j.Config.AckedAt = timePtr(p.AckedAt)
		j.Config.DenyListAckedAt = timePtr(p.DenyListAckedAt)
	}
	return j
}

// ListJSON is a list of devices and their summary.
type ListJSON struct {
	Summary fleet.Summary `json:"summary"`
	Devices []DeviceJSON  `json:"devices"`
}

// list: every device, or those matching ?site=, ?state=online|offline,
// ?overdue=true, ?pending=true (a pushed config not yet applied); with a
// summary of the devices listed.
func (h *handlers) list(c *fiber.Ctx) error {
	if !mayRead(c) {
		return forbidden(c, "read the fleet")
	}
	site, state := c.Query("site"), proto.State(c.Query("state"))
	if state != "" && state != proto.StateOnline && state != proto.StateOffline {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-query", "state must be online or offline.")
	}
	overdue, pending := c.QueryBool("overdue"), c.QueryBool("pending")
	now := h.cfg.Now()
	var picked []fleet.Device
	for _, d := range h.cfg.Fleet.Devices() {
		switch {
		case site != "" && d.Site != site,
			state != "" && d.Status.State != state,
			overdue && !d.Overdue(now),
			pending && (d.Config == nil || d.Acked()):
			continue
		}
		picked = append(picked, d)
	}
	out := make([]DeviceJSON, len(picked))
	for i, d := range picked {
		out[i] = show(d, now)
	}
	return c.JSON(ListJSON{Summary: fleet.Summarize(picked, now), Devices: out})
}

// params returns the site and device ids of the path, copied: fiber's
// strings point into a buffer it reuses for the next request, and these end
// up in the fleet view.
func params(c *fiber.Ctx) (site, device string) {
	return strings.Clone(c.Params("site")), strings.Clone(c.Params("device"))
}

// badIDs answers a request whose site or device id in the path is not one.
func badIDs(c *fiber.Ctx) error {
	return authjwt.Problem(c, fiber.StatusBadRequest, "bad-id",
		"site and device ids are 1-64 characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit.")
}

func validIDs(ids ...string) bool {
	for _, id := range ids {
		if proto.CheckID(id) != nil {
			return false
		}
	}
	return true
}

func (h *handlers) get(c *fiber.Ctx) error {
	if !mayRead(c) {
		return forbidden(c, "read the fleet")
	}
	site, device := params(c)
	if !validIDs(site, device) {
		return badIDs(c)
	}
	d, ok := h.cfg.Fleet.Device(site, device)
	if !ok {
		return authjwt.Problem(c, fiber.StatusNotFound, "no-device", "Nothing has been heard of this device.")
	}
	return c.JSON(show(d, h.cfg.Now()))
}

// configRequest reads the fields of a config to push. The service sets
// version, device, site and issue time; kind is needed only for a device
// never heard of. Unknown fields are refused, so a misspelt one is not
// silently ignored. The problem it returns is for the caller to answer.
func configRequest(body []byte) (proto.Config, string) {
	var want proto.Config
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		return want, "The body must be a JSON config: decision_timeout_ms, offline, deny_list, heartbeat_s, drain_per_s, and kind for a device not yet heard of."
	}
	if want.V != 0 || want.Version != 0 || want.Device != "" || want.Site != "" || !want.IssuedAt.IsZero() {
		return want, "v, version, device, site and issued_at are set by the service."
	}
	return want, ""
}

// PushJSON is the answer to a push.
type PushJSON struct {
	Site     string     `json:"site"`
	Device   string     `json:"device"`
	Version  int64      `json:"version"`
	IssuedAt proto.Time `json:"issued_at"`
}

func (h *handlers) push(c *fiber.Ctx) error {
	if authjwt.Caller(c).Role != authjwt.RoleAdmin {
		return forbidden(c, "push configs")
	}
	site, device := params(c)
	if !validIDs(site, device) {
		return badIDs(c)
	}
	want, problem := configRequest(c.Body())
	if problem != "" {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", problem)
	}
	cfg, err := h.cfg.Fleet.NextConfig(site, device, want, h.cfg.Now())
	switch {
	case errors.Is(err, fleet.ErrUnknownDevice):
		return authjwt.Problem(c, fiber.StatusNotFound, "no-device", "Nothing has been heard of this device: give its kind to push to it.")
	case errors.Is(err, fleet.ErrInvalid):
		return authjwt.Problem(c, fiber.StatusUnprocessableEntity, "bad-config", err.Error())
	case err != nil:
		return err
	}
	if err := h.cfg.Pusher.Push(c.UserContext(), cfg); err != nil {
		h.cfg.Log.Error("config push failed", "site", site, "device", device, "version", cfg.Version, "err", err)
		return authjwt.Problem(c, fiber.StatusServiceUnavailable, "broker-unavailable", "The config could not be handed to the broker; nothing was pushed.")
	}
	h.cfg.Log.Info("config pushed", "site", site, "device", device, "version", cfg.Version, "by", authjwt.Caller(c).Subject)
	c.Location("/v1/devices/" + site + "/" + device)
	return c.Status(fiber.StatusAccepted).JSON(PushJSON{Site: site, Device: device, Version: cfg.Version, IssuedAt: cfg.IssuedAt})
}

// pushSite pushes the same change to every device known at a site (a deny
// list to a whole station, say), each with a version of its own.
func (h *handlers) pushSite(c *fiber.Ctx) error {
	if authjwt.Caller(c).Role != authjwt.RoleAdmin {
		return forbidden(c, "push configs")
	}
	site, _ := params(c)
	if !validIDs(site) {
		return badIDs(c)
	}
	want, problem := configRequest(c.Body())
	if problem != "" {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", problem)
	}
	if want.Kind != "" {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", "kind cannot be set for a whole site.")
	}
	now := h.cfg.Now()
	var cfgs []proto.Config
	for _, d := range h.cfg.Fleet.Devices() {
		if d.Site != site {
			continue
		}
		cfg, err := h.cfg.Fleet.NextConfig(d.Site, d.Device, want, now)
		if err != nil {
			// All or nothing: a change that one device refuses is not half done.
			return authjwt.Problem(c, fiber.StatusUnprocessableEntity, "bad-config", d.Device+": "+err.Error())
		}
		cfgs = append(cfgs, cfg)
	}
	if len(cfgs) == 0 {
		return authjwt.Problem(c, fiber.StatusNotFound, "no-device", "Nothing has been heard of any device at this site.")
	}
	out := make([]PushJSON, 0, len(cfgs))
	for _, cfg := range cfgs {
		if err := h.cfg.Pusher.Push(c.UserContext(), cfg); err != nil {
			h.cfg.Log.Error("config push failed", "site", site, "device", cfg.Device, "version", cfg.Version, "err", err)
			return authjwt.Problem(c, fiber.StatusServiceUnavailable, "broker-unavailable",
				"The broker stopped taking configs part way; the devices listed in the view as pushed got theirs.")
		}
		out = append(out, PushJSON{Site: site, Device: cfg.Device, Version: cfg.Version, IssuedAt: cfg.IssuedAt})
	}
	h.cfg.Log.Info("config pushed to a site", "site", site, "devices", len(out), "by", authjwt.Caller(c).Subject)
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"pushed": out})
}
