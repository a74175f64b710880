package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/fleet"
	"github.com/vnpass/vnpass/services/fleet/fleethttp"
	"github.com/vnpass/vnpass/services/fleet/fleetmqtt"
)

// Main is the running fleet service. End-to-end tests start it in-process
// exactly as the binary does, with an API address of port 0.
type Main struct {
	Config Config
	Log    *slog.Logger

	Fleet   *fleet.Fleet
	Watcher *fleetmqtt.Watcher
	Auth    *authjwt.Issuer

	cancel context.CancelFunc
	wg     sync.WaitGroup
	// pushMu makes each config push one step from NextConfig to Push: the
	// deny list and the ticket lists are pushed by two loops, and each push
	// starts from the last one.
	pushMu sync.Mutex
	app    *fiber.App
	ln     net.Listener
}

// Open starts everything; on error, what was started is closed again.
func (m *Main) Open(ctx context.Context) (err error) {
	if err := m.Config.Validate(); err != nil {
		return err
	}
	if m.Log == nil {
		m.Log = slog.Default()
	}
	cfg := m.Config
	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	defer func() {
		if err != nil {
			m.Close()
		}
	}()

	m.Fleet = fleet.New()
	m.Watcher, err = fleetmqtt.New(fleetmqtt.Config{
		BrokerURL: cfg.MQTTURL, Username: cfg.MQTTUser, Password: cfg.MQTTPassword,
		ClientID: "fleet-" + cfg.Instance, Topics: cfg.Topics, Fleet: m.Fleet, Log: m.Log, Now: cfg.Now,
	})
	if err != nil {
		return err
	}
	connectCtx, cancelConnect := context.WithTimeout(ctx, 30*time.Second)
	err = m.Watcher.Start(connectCtx)
	cancelConnect()
	if err != nil {
		return err
	}
	m.goRun(func() { m.watchOverdue(runCtx) })

	keys := []authjwt.Key{{ID: authjwt.DefaultKeyID, Secret: []byte(cfg.APISecret)}}
	if cfg.APISecrets != "" {
		if keys, err = authjwt.ParseKeys(cfg.APISecrets); err != nil {
			return err
		}
	}
	if m.Auth, err = authjwt.NewKeyring(keys, cfg.Now); err != nil {
		return err
	}
	if cfg.DenyListURL != "" {
		m.goRun(func() { m.syncDenyList(runCtx) })
	}
	if cfg.RailTicketsURL != "" {
		m.goRun(func() { m.syncRailTickets(runCtx) })
	}
	m.app = fleethttp.New(fleethttp.Config{
		Fleet: m.Fleet, Pusher: m.Watcher, Auth: m.Auth, Now: cfg.Now, Log: m.Log, Metrics: m.metrics,
		MetricsToken: cfg.MetricsToken,
		Ready: func() error {
			if !m.Watcher.Connected() {
				return errors.New("broker link down")
			}
			return nil
		},
	})
	if cfg.MetricsToken == "" && !authjwt.Loopback(cfg.APIAddr) {
		m.Log.Warn("VNPASS_METRICS_TOKEN unset: /metrics is open to whoever reaches the API port", "addr", cfg.APIAddr)
	}
	if m.ln, err = net.Listen("tcp", cfg.APIAddr); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	m.goRun(func() {
		if err := m.app.Listener(m.ln); err != nil {
			m.Log.Error("api stopped", "err", err)
		}
	})
	return nil
}

func (m *Main) goRun(f func()) {
	m.wg.Add(1)
	go func() { defer m.wg.Done(); f() }()
}

// watchOverdue logs each device that misses its heartbeats, once, and again
// when it is heard from (or goes offline properly).
func (m *Main) watchOverdue(ctx context.Context) {
	t := time.NewTicker(m.Config.OverdueCheck)
	defer t.Stop()
	overdue := map[[2]string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := m.Config.Now()
		seen := map[[2]string]bool{}
		for _, d := range m.Fleet.Devices() {
			k := [2]string{d.Site, d.Device}
			late := d.Overdue(now)
			seen[k] = true
			switch {
			case late && !overdue[k]:
				m.Log.Warn("device heartbeat overdue", "site", d.Site, "device", d.Device,
					"last_heartbeat", d.LastHeartbeat, "heartbeat_s", d.Status.HeartbeatS)
			case !late && overdue[k]:
				m.Log.Info("device heard from again", "site", d.Site, "device", d.Device, "state", d.Status.State)
			}
			overdue[k] = late
		}
		for k := range overdue {
			if !seen[k] {
				delete(overdue, k)
			}
		}
	}
}

// APIAddr is the address the API listens on.
func (m *Main) APIAddr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// Close stops the API and the broker link.
func (m *Main) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	if m.app != nil {
		m.app.ShutdownWithTimeout(5 * time.Second)
	}
	if m.Watcher != nil {
		m.Watcher.Close()
	}
	m.wg.Wait()
	return nil
}

// metrics is the Prometheus text exposition of the view and the broker link.
func (m *Main) metrics(now time.Time) string {
	var b strings.Builder
	s := fleet.Summarize(m.Fleet.Devices(), now)
	gauge := func(name, help string, v int64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	counter := func(name, help string, v int64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	fmt.Fprintf(&b, "# HELP vnpass_fleet_devices Devices in the view by state.\n# TYPE vnpass_fleet_devices gauge\n")
	fmt.Fprintf(&b, "vnpass_fleet_devices{state=\"online\"} %d\nvnpass_fleet_devices{state=\"offline\"} %d\nvnpass_fleet_devices{state=\"unknown\"} %d\n",
		s.Online, s.Offline, s.Unknown)
	gauge("vnpass_fleet_overdue_devices", "Online devices that missed their heartbeats.", int64(s.Overdue))
	gauge("vnpass_fleet_config_pending_devices", "Devices not yet applying the latest config pushed to them.", int64(s.ConfigPending))
	gauge("vnpass_fleet_queued_taps", "Taps waiting in the devices' queues, as they last reported.", int64(s.QueuedTaps))
	gauge("vnpass_fleet_offline_decisions_opened", "Offline decisions that opened, as the devices last reported.", s.OfflineOpened)
	gauge("vnpass_fleet_offline_decisions_refused", "Offline decisions that refused, as the devices last reported.", s.OfflineRefused)
	st := m.Watcher.Stats()
	counter("vnpass_fleet_statuses_total", "Device statuses received.", st.Statuses.Load())
	counter("vnpass_fleet_malformed_total", "Status and config messages dropped because they did not decode.", st.Malformed.Load())
	counter("vnpass_fleet_config_pushes_total", "Configs pushed to devices.", st.Pushes.Load())
	counter("vnpass_fleet_config_push_errors_total", "Config pushes the broker did not take.", st.PushErrors.Load())
	return b.String()
}
