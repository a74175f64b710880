// Package tapmqtt is the MQTT ingestion of taps: a member of a shared
// subscription on the taps channel that hands each tap to a Handler,
// publishes the decision back to the gate and then acknowledges the tap.
//
// The session is clean. With a persistent session the broker keeps
// routing a stopped replica's share of the taps into its queue, where they
// wait unanswered until the gates have long given up (measured: half the
// taps lost to timeouts with one of two replicas down). A tap is made
// durable by the gate instead, which keeps it until it has a decision and
// sends it again with the same event id; the Handler's idempotency by event
// id makes every redelivery safe.
//
// Each device's taps are bounded by a token bucket before they reach the
// workers: over the rate they are paced, past a hold they are dropped
// without a decision, for the gate to send again (limit.go). A tap the
// Handler keeps failing is retried for Config.GiveUpAfter, then given back
// to the gate the same way (counted), so that it cannot hold a worker.
package tapmqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/proto"
)

// Handler decides one tap. An error wrapping proto.ErrMalformed drops the
// message; any other error is retried, for at most Config.GiveUpAfter.
type Handler interface {
	Handle(ctx context.Context, topic string, payload []byte) (admission.Reply, error)
}

// Config of an Ingestor.
type Config struct {
	BrokerURL, Username, Password string
	ClientID                      string // unique per replica: two connections with one id evict each other
	Group                         string // shared subscription group, default "fare"
	Topics                        proto.Topics
	Workers                       int // concurrent handlers, default 8
	Handler                       Handler
	Log                           *slog.Logger
	// Retry is the pause between attempts when the Handler fails (the
	// database is away); default 200ms.
	Retry time.Duration
	// Limit bounds each device's taps (limit.go); the zero Limit is the
	// defaults, a negative Rate no limit.
	Limit Limit
	// GiveUpAfter bounds the retries of one tap (default 30s). A tap the
	// Handler still fails after it is acknowledged without a decision and
	// counted (Stats.GivenUp): the gate keeps it on its disk and sends it
	// again (a lone unanswered tap after a minute, turnstile-agent's
	// LoneResendAfter), nothing is lost, and the worker goes back to the
	// other taps. A
	// tap that fails every time (one the database refuses) held its worker
	// for ever before, and enough of them would stop ingestion. A copy of
	// a tap given up within GiveUpAfter×20 is tried once, not retried.
	GiveUpAfter time.Duration
}

// Ingestor consumes taps and answers them.
type Ingestor struct {
	cfg    Config
	client mqtt.Client
	work   chan mqtt.Message
	wg     sync.WaitGroup
	stats  Stats
	limit  *limiter // nil: no per-device limit
	gaveUp givenUp
	// ctx ends when Close stops the workers; in-flight taps finish first.
	ctx    context.Context
	cancel context.CancelFunc
}

// Stats counts what the ingestor did. Paced counts taps held over their
// device's rate, RateDropped those dropped over it (limit.go).
type Stats struct {
	Received, Replied, Malformed, Retries, PublishErrors atomic.Int64
	Paced, RateDropped                                   atomic.Int64
	// GivenUp counts taps acknowledged without a decision after their
	// retries (Config.GiveUpAfter), left to the gate to send again.
	GivenUp atomic.Int64
}

// New validates cfg.
func New(cfg Config) (*Ingestor, error) {
	if cfg.BrokerURL == "" || cfg.ClientID == "" || cfg.Handler == nil {
		return nil, errors.New("tapmqtt: broker URL, client id and handler are required")
	}
	if cfg.Group == "" {
		cfg.Group = "fare"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 200 * time.Millisecond
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = 30 * time.Second
	}
	in := &Ingestor{cfg: cfg, work: make(chan mqtt.Message, 4*cfg.Workers)}
	in.gaveUp.init(20 * cfg.GiveUpAfter)
	if cfg.Limit.Rate >= 0 {
		in.cfg.Limit.ensureDefaults()
		in.limit = newLimiter(in.cfg.Limit, time.Now)
		in.limit.release = func(topic string) { go in.release(topic) }
		in.limit.report = in.reportLimited
	}
	return in, nil
}

// Limit is the per-device limit in force (Rate < 0: none).
func (in *Ingestor) Limit() Limit { return in.cfg.Limit }

// Stats returns the counters.
func (in *Ingestor) Stats() *Stats { return &in.stats }

// Start connects, subscribes and starts the workers. ctx bounds only the
// connection attempt (with ConnectTimeout): a broker that refuses our
// credentials or does not answer fails Start instead of hanging it.
func (in *Ingestor) Start(ctx context.Context) error {
	in.ctx, in.cancel = context.WithCancel(context.Background())
	filter := in.cfg.Topics.Shared(in.cfg.Group, proto.ChanTaps)
	onMsg := func(_ mqtt.Client, m mqtt.Message) {
		in.stats.Received.Add(1)
		if in.limit != nil {
			switch in.limit.admit(m.Topic(), m) {
			case held:
				in.stats.Paced.Add(1)
				m.Ack() // see limit.go
				return
			case dropped:
				in.stats.RateDropped.Add(1)
				m.Ack() // no decision: the gate sends it again
				return
			}
		}
		in.enqueue(m)
	}
	opts := mqtt.NewClientOptions().
		AddBroker(in.cfg.BrokerURL).
		SetClientID(in.cfg.ClientID).
		SetUsername(in.cfg.Username).
		SetPassword(in.cfg.Password).
		SetCleanSession(true). // see the package comment
		SetAutoReconnect(true).
		SetMaxReconnectInterval(5 * time.Second).
		SetConnectTimeout(5 * time.Second).
		SetKeepAlive(15 * time.Second).
		SetAutoAckDisabled(true). // ack after the decision is recorded and sent
		SetOrderMatters(false).
		// Messages can arrive before Subscribe has registered its route.
		SetDefaultPublishHandler(onMsg).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			in.cfg.Log.Warn("mqtt connection lost", "err", err)
		}).
		SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) {
			in.cfg.Log.Info("mqtt reconnecting", "broker", in.cfg.BrokerURL)
		})
	// Start returns once the first subscription holds: with a clean
	// session, a tap published before it would reach nobody.
	subscribed := make(chan error, 1)
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		tok := c.Subscribe(filter, 1, onMsg)
		var err error
		if !tok.WaitTimeout(10 * time.Second) {
			err = errors.New("no SUBACK within 10s")
		} else {
			err = tok.Error()
		}
		if st, ok := tok.(*mqtt.SubscribeToken); ok && err == nil && st.Result()[filter] == 0x80 {
			err = errors.New("subscription refused by the broker")
		}
		if err != nil {
			in.cfg.Log.Error("mqtt subscribe failed", "filter", filter, "err", err)
		} else {
			in.cfg.Log.Info("mqtt subscribed", "filter", filter, "client_id", in.cfg.ClientID)
		}
		select {
		case subscribed <- err:
		default:
		}
	})
	in.client = mqtt.NewClient(opts)
	tok := in.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("tapmqtt: connect %s as %s: %w", in.cfg.BrokerURL, in.cfg.Username, err)
		}
	case <-ctx.Done():
		in.client.Disconnect(0)
		return fmt.Errorf("tapmqtt: connect %s: %w", in.cfg.BrokerURL, ctx.Err())
	}
	select {
	case err := <-subscribed:
		if err != nil {
			in.client.Disconnect(0)
			return fmt.Errorf("tapmqtt: subscribe %s: %w", filter, err)
		}
	case <-ctx.Done():
		in.client.Disconnect(0)
		return fmt.Errorf("tapmqtt: subscribe %s: %w", filter, ctx.Err())
	}
	for i := 0; i < in.cfg.Workers; i++ {
		in.wg.Add(1)
		go in.worker()
	}
	return nil
}

// Close stops taking taps, lets the workers finish the taps they hold (up
// to drain), then disconnects. Taps not finished are not acknowledged.
func (in *Ingestor) Close(drain time.Duration) {
	if in.client == nil {
		return
	}
	if in.client.IsConnected() {
		tok := in.client.Unsubscribe(in.cfg.Topics.Shared(in.cfg.Group, proto.ChanTaps))
		tok.WaitTimeout(2 * time.Second)
	}
	done := make(chan struct{})
	go func() {
		// Workers stop once the queue they were handed is empty.
		for len(in.work) > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		in.cancel()
		in.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(drain):
		in.cancel()
		in.cfg.Log.Warn("stopping with taps in progress; they are not acknowledged")
	}
	in.client.Disconnect(250)
}

// enqueue hands a tap to the workers; false when the ingestor stops first.
func (in *Ingestor) enqueue(m mqtt.Message) bool {
	select {
	case in.work <- m:
		return true
	case <-in.ctx.Done():
		return false
	}
}

// release hands a device's held taps to the workers as its bucket refills,
// until none is left or the ingestor stops (what is still held then is
// sent again by the gate).
func (in *Ingestor) release(topic string) {
	for {
		msgs, wait := in.limit.next(topic)
		for _, m := range msgs {
			if !in.enqueue(m) {
				return
			}
		}
		if wait == 0 {
			return
		}
		select {
		case <-in.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// reportLimited logs a device over its rate, at most once a minute per
// device: the device, never the taps.
func (in *Ingestor) reportLimited(topic string, paced, dropped int64) {
	_, site, device, err := in.cfg.Topics.Parse(topic)
	if err != nil {
		site, device = "", topic
	}
	in.cfg.Log.Warn("device over its tap rate: taps paced or dropped", "site", site, "device", device,
		"paced", paced, "dropped", dropped, "rate_per_s", in.cfg.Limit.Rate, "burst", in.cfg.Limit.Burst)
}

func (in *Ingestor) worker() {
	defer in.wg.Done()
	for {
		select {
		case <-in.ctx.Done():
			return
		case m := <-in.work:
			in.process(in.ctx, m)
		}
	}
}

func (in *Ingestor) process(ctx context.Context, m mqtt.Message) {
	var failing time.Time // when the first attempt failed
	attempts := 0
	for {
		reply, err := in.cfg.Handler.Handle(ctx, m.Topic(), m.Payload())
		attempts++
		switch {
		case errors.Is(err, proto.ErrMalformed):
			in.stats.Malformed.Add(1)
			// Never log the payload: it is untrusted and may carry anything
			// (nor the bytes of it the error quotes).
			in.cfg.Log.Warn("malformed tap dropped", "topic", m.Topic(), "bytes", len(m.Payload()), "err", redact(err))
			m.Ack()
			return
		case err != nil:
			if ctx.Err() != nil {
				return // not acknowledged: the broker delivers it again
			}
			now := time.Now()
			if failing.IsZero() {
				failing = now
			}
			if now.Sub(failing) >= in.cfg.GiveUpAfter || in.gaveUp.recent(m.Topic(), m.Payload(), now) {
				in.gaveUp.add(m.Topic(), m.Payload(), now)
				in.stats.GivenUp.Add(1)
				in.cfg.Log.Error("tap not recorded after retries: acknowledged without a decision, the gate sends it again",
					"topic", m.Topic(), "attempts", attempts, "for_ms", now.Sub(failing).Milliseconds(), "err", err)
				m.Ack()
				return
			}
			in.stats.Retries.Add(1)
			in.cfg.Log.Error("tap not recorded, retrying", "topic", m.Topic(), "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(in.cfg.Retry):
			}
			continue
		}
		tok := in.client.Publish(reply.Topic, 1, false, reply.Payload)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			// The decision is recorded, and the gate has given up by now;
			// when it sends the tap again it gets the stored decision.
			in.stats.PublishErrors.Add(1)
			in.cfg.Log.Error("decision not published", "event_id", reply.EventID, "err", tok.Error())
		} else {
			in.stats.Replied.Add(1)
		}
		m.Ack()
		return
	}
}
