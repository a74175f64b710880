// Package agent is the gate agent that runs beside each turnstile. It turns a
// face capture into a VNeID assertion (through a Matcher), publishes the tap
// over MQTT, waits for the cloud's decision on that tap and drives the gate
// with it. It owns the device's MQTT session, its retained status and the
// config the cloud pushes to it.
//
// With a state directory (Config.Dir) the agent works offline too: every tap
// goes into a durable queue on disk before anything else happens to it and
// leaves only when the cloud's decision for its event id has come back;
// when the cloud cannot answer in time the agent decides by itself from the
// VNeID keys it keeps, the deny list and policy the cloud pushed and its own
// record of recent entries, and the tap carries that decision
// (proto.Tap.Offline) to the cloud once the link is back. See offline.go and
// outbox.go.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/identity"
	"github.com/vnpass/vnpass/proto"
)

// Matcher obtains a VNeID assertion for a face capture at this device (the
// VNeID face-match service). A face that matches no citizen returns an error
// wrapping ErrNoMatch; any other error means the service could not answer.
type Matcher interface {
	Match(ctx context.Context, faceRef, device string) (assertion string, expiresAt time.Time, err error)
}

// Gate drives the physical (here simulated) turnstile and its display.
// Calls may come from several goroutines at once.
type Gate interface {
	Open(d proto.Display)
	Refuse(d proto.Display)
}

// Verifier checks a VNeID assertion on the gate itself, for the decisions
// the agent makes offline: as of the capture time, with keys kept from the
// provider's JWKS (services/vneid.Verifier). An implementation may also
// have HasKeys() bool; while it reports false the agent refuses offline
// with proto.ReasonOfflineUnavailable rather than blame the rider.
type Verifier interface {
	VerifyAt(ctx context.Context, token, device string, at time.Time) (identity.Assertion, error)
}

// Defaults applied by New.
const (
	DefaultDecisionTimeout = 2 * time.Second
	DefaultSoftware        = "vnpass-agent/0.2.0"
	DefaultDrainRate       = 200 // taps per second from the queue
	DefaultHeartbeat       = 30 * time.Second
	DefaultResendAfter     = 10 * time.Second
	DefaultWindow          = 512
)

// DefaultOfflinePolicy is the offline policy until the cloud pushes one: two
// offline entries per rider per day, none once the deny list is a day old
// (or before any deny list came), and no second entry through this gate
// within 20 minutes.
var DefaultOfflinePolicy = proto.OfflinePolicy{MaxEntriesPerDay: 2, DenyListMaxAgeH: 24, PassBackS: 1200}

var (
	// ErrNoMatch is wrapped by a Matcher's error when the face matches no
	// citizen. The agent refuses with DisplayNoMatch and publishes nothing.
	ErrNoMatch = errors.New("agent: face not matched")
	// ErrNotConnected is returned (wrapped) by Tap before Connect and while
	// the link to the broker is down.
	ErrNotConnected = errors.New("agent: not connected")
	// ErrClosed is returned by Tap and Connect after Close.
	ErrClosed = errors.New("agent: closed")
)

// DisplayNoMatch is what the gate shows when the face matched no citizen.
// It is a gate-side outcome, not a cloud reason code: Result.Decision carries
// proto.ReasonAssertionInvalid (there is no assertion at all) with this text.
var DisplayNoMatch = proto.Display{
	VI: "Không nhận diện được khuôn mặt, vui lòng thử lại",
	EN: "Face not recognised, please try again",
}

// Config is what one gate agent needs. Zero DecisionTimeout, Software,
// Logger and Now take defaults; the rest is required.
type Config struct {
	Device, Site string
	Kind         proto.Kind
	Topics       proto.Topics

	BrokerURL, Username, Password string

	// DecisionTimeout is how long a rider waits for the cloud, from publishing
	// the tap to the decision, before the gate refuses with "system busy".
	// A pushed proto.Config replaces it. Default 2s.
	DecisionTimeout time.Duration
	// Software is reported in the device status, e.g. "vnpass-agent/0.1.0".
	Software string

	Matcher Matcher
	Gate    Gate
	Logger  *slog.Logger
	// Now is the wall clock for captured_at and status times. Latencies are
	// measured on the monotonic clock whatever Now says.
	Now func() time.Time

	// Dir is the agent's state directory: the queue of taps, the config it
	// was last pushed, its record of recent entries. One agent at a time
	// may use it. Empty: online only, as for a simulator: no queue, no
	// offline decisions, and a tap with no answer in time is refused.
	Dir string
	// Verifier checks assertions for offline decisions. Nil: every offline
	// decision refuses (proto.ReasonOfflineUnavailable).
	Verifier Verifier
	// Offline is the offline policy until the cloud pushes one; nil for
	// DefaultOfflinePolicy.
	Offline *proto.OfflinePolicy
	// DrainRate is the most queued taps per second sent to the broker
	// (a pushed config replaces it). Live taps go through the same queue,
	// so it is also the gate's peak tap rate. Default DefaultDrainRate.
	DrainRate int
	// Window is the most taps sent and not yet decided; the rest wait in
	// the queue. Default DefaultWindow.
	Window int
	// ResendAfter is how long sent taps may go without any decision coming
	// back before the agent sends them again, from the oldest not yet
	// decided (the fare service was away and the broker dropped them).
	// Default DefaultResendAfter.
	ResendAfter time.Duration
	// LoneResendAfter is how long one sent tap may go without its decision
	// while others are answered before the agent sends again from it (the
	// fare service gave it up, or a replica holding it stopped). Default 6 ×
	// ResendAfter.
	LoneResendAfter time.Duration
	// Heartbeat is how often the agent republishes its status while
	// connected (a pushed config replaces it). Default DefaultHeartbeat.
	Heartbeat time.Duration
	// QueueMaxBytes bounds the queue on disk (queue.Options.MaxBytes).
	QueueMaxBytes int64
}

// Agent is one gate's agent. Tap is safe for concurrent use.
type Agent struct {
	cfg Config
	log *slog.Logger

	// The topics, built once.
	tapsTopic, statusTopic, decisionsTopic, configTopic string

	timeout       atomic.Int64 // current decision timeout, in nanoseconds
	configMu      sync.Mutex   // serialises config pushes
	configVersion int64        // version of the last applied config; guarded by configMu

	// Taps waiting for their decision, by event id. A waiting tap owns a
	// channel with room for exactly one decision; whoever removes the entry
	// from the map (the decision handler or the tap giving up) settles it.
	mu      sync.Mutex
	pending map[string]chan proto.Decision

	connMu sync.Mutex
	client mqtt.Client // nil before Connect; guarded by connMu
	up     uplink      // nil before Connect; guarded by connMu
	closed atomic.Bool

	// openConn, if set, opens the network connection instead of paho; tests
	// use it to cut the link under a live session.
	openConn mqtt.OpenConnectionFunc

	stats counters

	// With a state directory (nil otherwise): see station.go.
	st *station
}

// New validates cfg, applies its defaults and returns an agent that is not
// yet connected.
func New(cfg Config) (*Agent, error) {
	if err := proto.CheckID(cfg.Device); err != nil {
		return nil, fmt.Errorf("agent: device: %w", err)
	}
	if err := proto.CheckID(cfg.Site); err != nil {
		return nil, fmt.Errorf("agent: site: %w", err)
	}
	if !cfg.Kind.Valid() {
		return nil, fmt.Errorf("agent: kind %q unknown", cfg.Kind)
	}
	if cfg.Matcher == nil {
		return nil, errors.New("agent: a Matcher is required")
	}
	if cfg.Gate == nil {
		return nil, errors.New("agent: a Gate is required")
	}
	if cfg.DecisionTimeout < 0 {
		return nil, fmt.Errorf("agent: decision timeout %v is negative", cfg.DecisionTimeout)
	}
	if cfg.DecisionTimeout == 0 {
		cfg.DecisionTimeout = DefaultDecisionTimeout
	}
	if cfg.Software == "" {
		cfg.Software = DefaultSoftware
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DrainRate < 0 || cfg.Window < 0 || cfg.ResendAfter < 0 || cfg.Heartbeat < 0 || cfg.QueueMaxBytes < 0 {
		return nil, errors.New("agent: negative drain rate, window, resend interval, heartbeat or queue size")
	}
	if cfg.DrainRate == 0 {
		cfg.DrainRate = DefaultDrainRate
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.ResendAfter == 0 {
		cfg.ResendAfter = DefaultResendAfter
	}
	if cfg.LoneResendAfter <= 0 {
		cfg.LoneResendAfter = 6 * cfg.ResendAfter
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Offline == nil {
		p := DefaultOfflinePolicy
		cfg.Offline = &p
	}
	if err := cfg.Offline.Validate(); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a := &Agent{
		cfg:            cfg,
		log:            cfg.Logger.With("device", cfg.Device, "site", cfg.Site),
		tapsTopic:      cfg.Topics.Taps(cfg.Site, cfg.Device),
		statusTopic:    cfg.Topics.Status(cfg.Site, cfg.Device),
		decisionsTopic: cfg.Topics.Decisions(cfg.Site, cfg.Device),
		configTopic:    cfg.Topics.Config(cfg.Site, cfg.Device),
		pending:        make(map[string]chan proto.Decision),
	}
	a.timeout.Store(int64(cfg.DecisionTimeout))
	// The status is the one message built from config alone: encoding it now
	// catches what its decoder would refuse (a Software string too long).
	if _, err := a.status(proto.StateOnline); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if cfg.Dir != "" {
		if err := a.openStation(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// DecisionTimeout is the decision timeout in force: the configured one, or
// the one from the newest config the cloud pushed.
func (a *Agent) DecisionTimeout() time.Duration { return time.Duration(a.timeout.Load()) }

// Device is the device id this agent speaks for.
func (a *Agent) Device() string { return a.cfg.Device }
