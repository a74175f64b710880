package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/proto"
)

const (
	// setupTimeout bounds each step of session setup (SUBACK, status PUBACK).
	setupTimeout = 10 * time.Second
	// closeTimeout bounds the offline status publish in Close.
	closeTimeout = 2 * time.Second
	// writeTimeout bounds how long paho's Publish may block handing a packet
	// to a stalled connection (paho's default is 30s, far past any rider's
	// patience), and the socket write deadline.
	writeTimeout = 2 * time.Second
	// subscribeFailure is the SUBACK return code for a refused subscription
	// (MQTT 3.1.1 §3.9.3); Mosquitto returns it when the ACL denies a filter.
	subscribeFailure = 0x80
)

// Connect opens the device's MQTT session and returns once it is ready:
// subscribed to its decisions and config and announced online. With a state
// directory, an error wrapping ErrNotConnected means it is not ready yet:
// the agent keeps trying in the background and decides offline meanwhile.
//
// The client id is "gate-"+Device and the session persistent (clean session
// false), so decisions published while the link is down are queued by the
// broker and delivered on reconnect. The broker publishes the retained offline
// status as the last will if the connection drops. paho reconnects by itself;
// after every (re)connect the agent subscribes again and republishes its
// online status.
func (a *Agent) Connect(ctx context.Context) error {
	if a.closed.Load() {
		return ErrClosed
	}
	will, err := a.status(proto.StateOffline)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	// The first session setup reports here; this Connect's own channel, so a
	// setup left over from an abandoned Connect cannot answer a later one.
	ready := make(chan error, 1)
	st := a.st
	opts := mqtt.NewClientOptions().
		AddBroker(a.cfg.BrokerURL).
		SetClientID("gate-"+a.cfg.Device).
		SetUsername(a.cfg.Username).
		SetPassword(a.cfg.Password).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectTimeout(setupTimeout).
		SetMaxReconnectInterval(10*time.Second).
		SetKeepAlive(30*time.Second).
		SetWriteTimeout(writeTimeout).
		SetBinaryWill(a.statusTopic, will, 1, true).
		// One handler for everything: with a persistent session the broker may
		// deliver queued decisions before the subscriptions are renewed, and
		// those must not fall on the floor. The handlers are quick (decode,
		// hand over), so in-order delivery on paho's goroutine is fine.
		SetDefaultPublishHandler(a.onMessage).
		SetOrderMatters(true).
		SetOnConnectHandler(func(c mqtt.Client) { a.onConnect(c, ready) }).
		SetStore(newCopyStore()).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			if st != nil {
				st.linkUp.Store(false)
				a.cancelDrain()
			}
			a.log.Warn("broker connection lost, reconnecting", "error", err)
		})
	if st != nil {
		// A gate with a queue works without the broker: it keeps trying to
		// connect, from the first attempt on, and decides offline meanwhile.
		opts.SetConnectRetry(true).SetConnectRetryInterval(2 * time.Second)
	}

	if a.openConn != nil {
		opts.SetCustomOpenConnectionFn(a.openConn)
	}

	a.connMu.Lock()
	if a.client != nil {
		a.connMu.Unlock()
		return errors.New("agent: already connected")
	}
	client := mqtt.NewClient(opts)
	a.client = client
	a.up = mqttUplink{client: client, topic: a.tapsTopic}
	a.connMu.Unlock()

	fail := func(err error) error {
		client.Disconnect(0)
		a.connMu.Lock()
		a.client, a.up = nil, nil
		a.connMu.Unlock()
		return fmt.Errorf("agent: connect %s: %w", a.cfg.BrokerURL, err)
	}
	if st != nil {
		// Whatever happens here, the client stays and keeps trying.
		notYet := func(err error) error {
			return fmt.Errorf("agent: connect %s: %w (%w; still trying, deciding offline meanwhile)", a.cfg.BrokerURL, ErrNotConnected, err)
		}
		if err := wait(ctx, client.Connect()); err != nil {
			return notYet(err)
		}
		select {
		case err := <-ready:
			if err != nil {
				return notYet(err)
			}
		case <-ctx.Done():
			return notYet(ctx.Err())
		}
		return nil
	}
	if err := wait(ctx, client.Connect()); err != nil {
		return fail(err)
	}
	select {
	case err := <-ready:
		if err != nil {
			return fail(err)
		}
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	return nil
}

// Connected reports whether the agent's MQTT session is up (and, with a
// state directory, set up: subscribed and announced online).
func (a *Agent) Connected() bool {
	if a.st != nil {
		return a.st.linkUp.Load()
	}
	a.connMu.Lock()
	c := a.client
	a.connMu.Unlock()
	return c != nil && c.IsConnectionOpen()
}

// onConnect runs on its own goroutine after every successful (re)connect.
func (a *Agent) onConnect(c mqtt.Client, ready chan<- error) {
	err := a.setup(c)
	if err != nil {
		a.log.Error("session setup failed", "error", err)
	} else {
		a.log.Info("connected", "broker", a.cfg.BrokerURL)
		if st := a.st; st != nil {
			st.linkUp.Store(true)
			a.cancelDrain() // and start one on this session
		}
	}
	// Only Connect reads this, for the first connect; later results find the
	// buffer full and are dropped.
	select {
	case ready <- err:
	default:
	}
}

// setup renews the subscriptions and announces the device online.
func (a *Agent) setup(c mqtt.Client) error {
	tok := c.SubscribeMultiple(map[string]byte{a.decisionsTopic: 1, a.configTopic: 1}, nil)
	if !tok.WaitTimeout(setupTimeout) {
		return fmt.Errorf("subscribe: no SUBACK within %v", setupTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		for filter, code := range st.Result() {
			if code == subscribeFailure {
				return fmt.Errorf("subscribe %s: refused by the broker", filter)
			}
		}
	}
	payload, err := a.status(proto.StateOnline)
	if err != nil {
		return err
	}
	ptok := c.Publish(a.statusTopic, 1, true, payload)
	if !ptok.WaitTimeout(setupTimeout) {
		return fmt.Errorf("publish online status: no PUBACK within %v", setupTimeout)
	}
	if err := ptok.Error(); err != nil {
		return fmt.Errorf("publish online status: %w", err)
	}
	return nil
}

// Close publishes the retained offline status and disconnects cleanly. Taps
// still waiting for a decision time out as usual. Close is idempotent.
func (a *Agent) Close() {
	if !a.closed.CompareAndSwap(false, true) {
		return
	}
	a.connMu.Lock()
	client := a.client
	a.connMu.Unlock()
	if a.st != nil {
		defer a.closeStation()
	}
	if client == nil {
		return
	}
	// A clean DISCONNECT means the broker will not publish the last will, so
	// say it ourselves. If the link is down the will has done it already.
	if client.IsConnectionOpen() {
		payload, err := a.status(proto.StateOffline)
		if err == nil {
			tok := client.Publish(a.statusTopic, 1, true, payload)
			switch {
			case !tok.WaitTimeout(closeTimeout):
				err = fmt.Errorf("no PUBACK within %v", closeTimeout)
			default:
				err = tok.Error()
			}
		}
		if err != nil {
			a.log.Warn("offline status not published", "error", err)
		}
	}
	client.Disconnect(250)
	a.log.Info("disconnected")
}

// status encodes this device's status in state s: what the fleet view
// shows of it, and the acknowledgement of the config and deny list it has
// applied.
func (a *Agent) status(s proto.State) ([]byte, error) {
	m := proto.Status{
		Device:   a.cfg.Device,
		Site:     a.cfg.Site,
		Kind:     a.cfg.Kind,
		State:    s,
		Software: a.cfg.Software,
		At:       proto.At(a.cfg.Now()),
	}
	m.ConfigVersion, m.DenyListVersion = a.configVersions()
	if st := a.st; st != nil {
		m.QueueDepth = st.q.Len()
		if st.clockKnown.Load() {
			off := st.clockOffset.Load()
			m.ClockOffsetMS = &off
		}
		m.OfflineOpened = int64(a.stats.offlineOpened.Load())
		m.OfflineRefused = int64(a.stats.offlineRefused.Load())
		a.configMu.Lock()
		m.HeartbeatS = int(st.heartbeat / time.Second)
		if st.tickets != nil {
			m.TicketsVersion = st.tickets.Version
		}
		a.configMu.Unlock()
	}
	return m.Encode()
}

// onMessage receives everything the broker delivers to this session.
func (a *Agent) onMessage(_ mqtt.Client, m mqtt.Message) {
	switch m.Topic() {
	case a.decisionsTopic:
		a.onDecision(m.Payload())
	case a.configTopic:
		a.onConfig(m.Payload())
	default:
		// A subscription of an older session that no longer applies.
		a.log.Debug("message on unexpected topic dropped", "topic", m.Topic())
	}
}

// wait waits for a paho token or the context, whichever ends first.
func wait(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
