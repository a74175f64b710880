// Package tapmqtt is the MQTT ingestion of taps: a member of a shared
// subscription on the taps channel that hands each tap to a Handler,
// publishes the decision back to the gate and only then acknowledges the
// tap, so that a tap whose decision was not recorded and sent is delivered
// again (the Handler's idempotency by event id makes that safe).
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
// message; any other error leaves it unacknowledged for redelivery.
type Handler interface {
	Handle(ctx context.Context, topic string, payload []byte) (admission.Reply, error)
}

// Config of an Ingestor.
type Config struct {
	BrokerURL, Username, Password string
	ClientID                      string // stable per replica, e.g. "fare-1": the broker keeps its session
	Group                         string // shared subscription group, default "fare"
	Topics                        proto.Topics
	Workers                       int // concurrent handlers, default 8
	Handler                       Handler
	Log                           *slog.Logger
	// Retry is the pause between attempts when the Handler fails (the
	// database is away); default 200ms.
	Retry time.Duration
}

// Ingestor consumes taps and answers them.
type Ingestor struct {
	cfg    Config
	client mqtt.Client
	work   chan mqtt.Message
	wg     sync.WaitGroup
	stats  Stats
}

// Stats counts what the ingestor did.
type Stats struct {
	Received, Replied, Malformed, Retries, PublishErrors atomic.Int64
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
	return &Ingestor{cfg: cfg, work: make(chan mqtt.Message, 4*cfg.Workers)}, nil
}

// Stats returns the counters.
func (in *Ingestor) Stats() *Stats { return &in.stats }

// Start connects, subscribes and starts the workers. Workers stop when ctx
// ends; call Close after that to disconnect.
func (in *Ingestor) Start(ctx context.Context) error {
	filter := in.cfg.Topics.Shared(in.cfg.Group, proto.ChanTaps)
	opts := mqtt.NewClientOptions().
		AddBroker(in.cfg.BrokerURL).
		SetClientID(in.cfg.ClientID).
		SetUsername(in.cfg.Username).
		SetPassword(in.cfg.Password).
		SetCleanSession(false). // the broker queues our share while we are away
		SetAutoReconnect(true).
		SetMaxReconnectInterval(5 * time.Second).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetKeepAlive(15 * time.Second).
		SetAutoAckDisabled(true). // ack after the decision is recorded and sent
		SetOrderMatters(false).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			in.cfg.Log.Warn("mqtt connection lost", "err", err)
		})
	onMsg := func(_ mqtt.Client, m mqtt.Message) {
		in.stats.Received.Add(1)
		select {
		case in.work <- m:
		case <-ctx.Done():
		}
	}
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		tok := c.Subscribe(filter, 1, onMsg)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			in.cfg.Log.Error("mqtt subscribe failed", "filter", filter, "err", tok.Error())
			return
		}
		in.cfg.Log.Info("mqtt subscribed", "filter", filter, "client_id", in.cfg.ClientID)
	})
	in.client = mqtt.NewClient(opts)
	for i := 0; i < in.cfg.Workers; i++ {
		in.wg.Add(1)
		go in.worker(ctx)
	}
	tok := in.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("tapmqtt: connect %s: %w", in.cfg.BrokerURL, err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Close waits for the workers (ctx must have ended) and disconnects.
// Messages taken but not finished stay unacknowledged and come back.
func (in *Ingestor) Close() {
	in.wg.Wait()
	if in.client != nil {
		in.client.Disconnect(250)
	}
}

func (in *Ingestor) worker(ctx context.Context) {
	defer in.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-in.work:
			in.process(ctx, m)
		}
	}
}

func (in *Ingestor) process(ctx context.Context, m mqtt.Message) {
	for {
		reply, err := in.cfg.Handler.Handle(ctx, m.Topic(), m.Payload())
		switch {
		case errors.Is(err, proto.ErrMalformed):
			in.stats.Malformed.Add(1)
			// Never log the payload: it is untrusted and may carry anything.
			in.cfg.Log.Warn("malformed tap dropped", "topic", m.Topic(), "bytes", len(m.Payload()), "err", err)
			m.Ack()
			return
		case err != nil:
			if ctx.Err() != nil {
				return // not acknowledged: the broker delivers it again
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
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			// The decision is recorded; a redelivery of the tap sends it again.
			in.stats.PublishErrors.Add(1)
			in.cfg.Log.Error("decision not published", "event_id", reply.EventID, "err", tok.Error())
			return
		}
		in.stats.Replied.Add(1)
		m.Ack()
		return
	}
}
