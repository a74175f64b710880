// Package fleetmqtt feeds the fleet view from the broker and pushes configs
// to devices: it reads every device's retained status and config, and
// publishes configs retained, QoS 1, on a device's config topic.
//
// The session is clean: the view is rebuilt from the retained messages that
// every (re)subscribe delivers, so nothing needs queueing while the service
// is away. Every replica reads everything (no shared subscription): each
// keeps the whole view.
package fleetmqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/fleet"
)

// Config of a Watcher.
type Config struct {
	BrokerURL, Username, Password string
	ClientID                      string // unique per replica
	Topics                        proto.Topics
	Fleet                         *fleet.Fleet
	Log                           *slog.Logger
	Now                           func() time.Time
	// Timeout bounds connect, subscribe and each publish; default 10s.
	Timeout time.Duration
}

// Stats counts what the watcher did.
type Stats struct {
	Statuses, Configs, Forgotten, Malformed, Pushes, PushErrors atomic.Int64
}

// Watcher keeps a fleet.Fleet up to date and pushes configs.
type Watcher struct {
	cfg    Config
	client mqtt.Client
	stats  Stats
}

// New validates cfg.
func New(cfg Config) (*Watcher, error) {
	if cfg.BrokerURL == "" || cfg.ClientID == "" || cfg.Fleet == nil {
		return nil, errors.New("fleetmqtt: broker URL, client id and fleet are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Watcher{cfg: cfg}, nil
}

// Stats returns the counters.
func (w *Watcher) Stats() *Stats { return &w.stats }

// Start connects and subscribes; it returns once the subscriptions are in
// place (the retained messages then arrive by themselves). paho reconnects
// on its own and every reconnect subscribes again, which delivers the
// retained messages again: what changed meanwhile is caught up.
func (w *Watcher) Start(ctx context.Context) error {
	ready := make(chan error, 1)
	opts := mqtt.NewClientOptions().AddBroker(w.cfg.BrokerURL).SetClientID(w.cfg.ClientID).
		SetUsername(w.cfg.Username).SetPassword(w.cfg.Password).
		SetCleanSession(true).SetAutoReconnect(true).SetMaxReconnectInterval(10 * time.Second).
		SetConnectTimeout(w.cfg.Timeout).SetKeepAlive(30 * time.Second).SetWriteTimeout(w.cfg.Timeout).
		SetOrderMatters(true). // a device's statuses are applied in the order the broker sent them
		SetOnConnectHandler(func(c mqtt.Client) {
			err := w.subscribe(c)
			if err != nil {
				w.cfg.Log.Error("fleet: subscribe failed", "err", err)
			}
			select {
			case ready <- err:
			default:
			}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			w.cfg.Log.Warn("fleet: broker connection lost, reconnecting", "err", err)
		})
	w.client = mqtt.NewClient(opts)
	if err := wait(ctx, w.client.Connect(), w.cfg.Timeout); err != nil {
		return fmt.Errorf("fleetmqtt: connect %s: %w", w.cfg.BrokerURL, err)
	}
	select {
	case err := <-ready:
		if err != nil {
			w.client.Disconnect(0)
			return fmt.Errorf("fleetmqtt: %w", err)
		}
		return nil
	case <-ctx.Done():
		w.client.Disconnect(0)
		return ctx.Err()
	}
}

func (w *Watcher) subscribe(c mqtt.Client) error {
	filters := map[string]byte{
		w.cfg.Topics.Filter(proto.ChanStatus): 1,
		w.cfg.Topics.Filter(proto.ChanConfig): 1,
	}
	tok := c.SubscribeMultiple(filters, w.onMessage)
	if !tok.WaitTimeout(w.cfg.Timeout) {
		return fmt.Errorf("subscribe: no SUBACK within %v", w.cfg.Timeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		for f, code := range st.Result() {
			if code == 0x80 {
				return fmt.Errorf("subscribe %s: refused by the broker", f)
			}
		}
	}
	return nil
}

// Connected reports whether the link to the broker is up.
func (w *Watcher) Connected() bool { return w.client != nil && w.client.IsConnectionOpen() }

// Close disconnects.
func (w *Watcher) Close() {
	if w.client != nil {
		w.client.Disconnect(250)
	}
}

func (w *Watcher) onMessage(_ mqtt.Client, m mqtt.Message) {
	heard := w.cfg.Now()
	ch, site, device, err := w.cfg.Topics.Parse(m.Topic())
	if err != nil {
		w.stats.Malformed.Add(1)
		return
	}
	payload := m.Payload()
	if len(payload) == 0 {
		// A cleared retained status: the device was revoked or retired.
		if ch == proto.ChanStatus {
			w.cfg.Fleet.Forget(site, device)
			w.stats.Forgotten.Add(1)
		}
		return
	}
	switch ch {
	case proto.ChanStatus:
		s, err := proto.DecodeStatus(payload)
		if err == nil && (s.Site != site || s.Device != device) {
			err = fmt.Errorf("status of %s/%s on the topic of %s/%s", s.Site, s.Device, site, device)
		}
		if err != nil {
			w.stats.Malformed.Add(1)
			w.cfg.Log.Warn("fleet: status dropped", "topic", m.Topic(), "bytes", len(payload), "err", err)
			return
		}
		w.stats.Statuses.Add(1)
		w.cfg.Fleet.ApplyStatus(fleet.Status{Status: s, Heard: heard, Live: !m.Retained()})
	case proto.ChanConfig:
		c, err := proto.DecodeConfig(payload)
		if err == nil && (c.Site != site || c.Device != device) {
			err = fmt.Errorf("config of %s/%s on the topic of %s/%s", c.Site, c.Device, site, device)
		}
		if err != nil {
			w.stats.Malformed.Add(1)
			w.cfg.Log.Warn("fleet: config dropped", "topic", m.Topic(), "bytes", len(payload), "err", err)
			return
		}
		w.stats.Configs.Add(1)
		w.cfg.Fleet.ApplyConfig(c, heard)
	}
}

// Push publishes c retained on its device's config topic and returns once
// the broker has it (PUBACK). The device receives it now if connected, or
// when it next subscribes; it acknowledges it in its status.
func (w *Watcher) Push(ctx context.Context, c proto.Config) error {
	payload, err := c.Encode()
	if err != nil {
		return fmt.Errorf("fleetmqtt: %w", err)
	}
	topic := w.cfg.Topics.Config(c.Site, c.Device)
	if err := wait(ctx, w.client.Publish(topic, 1, true, payload), w.cfg.Timeout); err != nil {
		w.stats.PushErrors.Add(1)
		return fmt.Errorf("fleetmqtt: push config %d to %s/%s: %w", c.Version, c.Site, c.Device, err)
	}
	w.stats.Pushes.Add(1)
	// Seen at once, not only when the broker echoes it back.
	w.cfg.Fleet.ApplyConfig(c, w.cfg.Now())
	return nil
}

// Forget clears a device's retained status and config, so that neither this
// view nor a device connecting under that id later finds them.
func (w *Watcher) Forget(ctx context.Context, site, device string) error {
	for _, topic := range []string{w.cfg.Topics.Status(site, device), w.cfg.Topics.Config(site, device)} {
		if err := wait(ctx, w.client.Publish(topic, 1, true, []byte{}), w.cfg.Timeout); err != nil {
			return fmt.Errorf("fleetmqtt: clear %s: %w", topic, err)
		}
	}
	w.cfg.Fleet.Forget(site, device)
	return nil
}

// wait waits for a paho token, the context or the timeout.
func wait(ctx context.Context, tok mqtt.Token, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("no answer from the broker within %v", timeout)
	}
}
