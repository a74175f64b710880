// Package sustain drives the platform at a fixed tap rate for a while and
// measures what the gates would see: taps per second sustained, decision
// latency from publish to decision (p50/p95/p99/max), decisions by reason,
// and, in the same run, the ceiling of the transport: a bare MQTT
// request/response through the same broker with a tap-sized message. It
// speaks only the wire contract: gates are MQTT clients publishing taps and
// reading decisions; the riders' faces are matched by a VNeID provider the
// caller supplies (in process, so that minting assertions at thousands per
// second does not measure an HTTP hop the platform does not make).
package sustain

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/proto"
)

// Matcher mints a VNeID assertion for a rider's face at a device.
type Matcher interface {
	Match(ctx context.Context, faceRef, device string) (string, time.Time, error)
}

// Gate is one device: a site, its id and kind.
type Gate struct {
	Site, Device string
	Kind         proto.Kind
}

// Rider travels between two gates: entries at From, exits at To, in turn.
type Rider struct {
	FaceRef  string
	From, To Gate
}

// Config of a run.
type Config struct {
	BrokerURL, User, Password string
	Topics                    proto.Topics
	// Logins, when set, gives each device its own login (user, password,
	// client id); otherwise every gate uses User/Password.
	Logins  func(g Gate) (user, password, clientID string)
	Rate    int           // taps per second, spread evenly
	For     time.Duration // how long to send
	Riders  []Rider       // every rider taps every len(Riders)/Rate seconds, entry and exit in turn
	Matcher Matcher
	// Wait is how long to wait for the last decisions after sending stops.
	Wait time.Duration
	// Resend is how long a gate waits for a decision before sending the
	// tap again, with the same event id, as a gate agent does from its
	// queue (0: never; latency is counted from the first send).
	Resend time.Duration
	// ResendNewID breaks the contract on purpose: an unanswered tap is
	// sent again under a new event id, as a faulty gate would, so that a
	// test can show the books check catch it. Never set it otherwise.
	ResendNewID bool
	// At, when set, is called once when the given share of the taps has
	// been sent (a fault drill starts there).
	At      func()
	AtShare float64
}

// Report is what a run measured.
type Report struct {
	Sent, Decided, Lost int
	Elapsed             time.Duration // first publish to last decision
	SendFor             time.Duration // first to last publish
	Latencies           []time.Duration
	Reasons             map[proto.Reason]int
	Late                int // taps published more than 50 ms behind schedule (the generator could not keep up)
	Resent              int // taps sent again for want of a decision
	// MaxGap is the longest stretch with no decision at all between the
	// first and the last: an outage as the gates saw it.
	MaxGap    time.Duration
	decidedAt []time.Time
	// SentIDs are the event ids the gates made (the first send of each
	// tap): every one must end up recorded.
	SentIDs []string
}

// Rate is decisions per second over the run.
func (r *Report) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Decided) / r.Elapsed.Seconds()
}

// Percentile of the decision latencies (p in 0..100).
func (r *Report) Percentile(p float64) time.Duration { return percentile(r.Latencies, p) }

func percentile(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p/100*float64(len(s)-1))]
}

type gateConn struct {
	g       Gate
	client  mqtt.Client
	mu      sync.Mutex
	pending map[string]*sentTap
}

type sentTap struct {
	first, last time.Time
	topic       string
	payload     []byte
}

type tapJob struct {
	gate *gateConn
	rec  Rider
	due  time.Time
}

// Run sends taps at cfg.Rate for cfg.For and reports.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Rate <= 0 || cfg.For <= 0 || len(cfg.Riders) == 0 || cfg.Matcher == nil {
		return nil, errors.New("sustain: rate, duration, riders and a matcher are required")
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 10 * time.Second
	}
	rep := &Report{Reasons: map[proto.Reason]int{}}
	var repMu sync.Mutex
	var lastDecision atomic.Int64
	gates := map[Gate]*gateConn{}
	for _, r := range cfg.Riders {
		for _, g := range []Gate{r.From, r.To} {
			if gates[g] == nil {
				gates[g] = &gateConn{g: g, pending: map[string]*sentTap{}}
			}
		}
	}
	var connectErr error
	for g, gc := range gates {
		user, pass, id := cfg.User, cfg.Password, "load-"+g.Device+"-"+fmt.Sprint(time.Now().UnixNano()%1e6)
		if cfg.Logins != nil {
			user, pass, id = cfg.Logins(g)
		}
		gc := gc
		onDecision := func(_ mqtt.Client, m mqtt.Message) {
			now := time.Now()
			d, err := proto.DecodeDecision(m.Payload())
			if err != nil {
				return
			}
			gc.mu.Lock()
			sent, ok := gc.pending[d.EventID]
			delete(gc.pending, d.EventID)
			gc.mu.Unlock()
			if !ok {
				return // a duplicate decision (QoS 1, or an answer to a re-sent tap)
			}
			lastDecision.Store(now.UnixNano())
			repMu.Lock()
			rep.Decided++
			rep.Latencies = append(rep.Latencies, now.Sub(sent.first))
			rep.decidedAt = append(rep.decidedAt, now)
			rep.Reasons[d.Reason]++
			repMu.Unlock()
		}
		subscribed := make(chan error, 1)
		decisions := cfg.Topics.Decisions(g.Site, g.Device)
		// Like a gate agent: reconnects on its own and subscribes again
		// (a clean session keeps nothing at the broker).
		opts := mqtt.NewClientOptions().AddBroker(cfg.BrokerURL).SetClientID(id).SetUsername(user).SetPassword(pass).
			SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).SetMaxReconnectInterval(time.Second).
			SetMaxResumePubInFlight(1000).SetWriteTimeout(10 * time.Second).
			SetOnConnectHandler(func(c mqtt.Client) {
				tok := c.Subscribe(decisions, 1, onDecision)
				tok.WaitTimeout(10 * time.Second)
				select {
				case subscribed <- tok.Error():
				default:
				}
			})
		gc.client = mqtt.NewClient(opts)
		if tok := gc.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			connectErr = fmt.Errorf("sustain: connect %s: %v", g.Device, tok.Error())
			break
		}
		select {
		case err := <-subscribed:
			if err != nil {
				connectErr = fmt.Errorf("sustain: subscribe %s: %v", g.Device, err)
			}
		case <-time.After(10 * time.Second):
			connectErr = fmt.Errorf("sustain: subscribe %s: no SUBACK", g.Device)
		}
		if connectErr != nil {
			break
		}
	}
	defer func() {
		for _, gc := range gates {
			if gc.client != nil {
				gc.client.Disconnect(100)
			}
		}
	}()
	if connectErr != nil {
		return nil, connectErr
	}

	// One scheduler hands taps to workers that mint the assertion and
	// publish; each tap's kind alternates per rider (entry, exit, entry...).
	total := int(float64(cfg.Rate) * cfg.For.Seconds())
	jobs := make(chan tapJob, 4096)
	var wg sync.WaitGroup
	var late atomic.Int64
	var sendErr atomic.Value
	workers := 32
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				g := j.gate.g
				a, _, err := cfg.Matcher.Match(ctx, j.rec.FaceRef, g.Device)
				if err != nil {
					sendErr.Store(err)
					continue
				}
				now := time.Now()
				if now.Sub(j.due) > 50*time.Millisecond {
					late.Add(1)
				}
				t := proto.Tap{EventID: proto.NewEventID(now), Device: g.Device, Site: g.Site, Kind: g.Kind,
					Assertion: a, CapturedAt: proto.At(now)}
				b, err := t.Encode()
				if err != nil {
					sendErr.Store(err)
					continue
				}
				topic := cfg.Topics.Taps(g.Site, g.Device)
				repMu.Lock()
				rep.SentIDs = append(rep.SentIDs, t.EventID)
				repMu.Unlock()
				j.gate.mu.Lock()
				j.gate.pending[t.EventID] = &sentTap{first: now, last: now, topic: topic, payload: b}
				j.gate.mu.Unlock()
				j.gate.client.Publish(topic, 1, false, b)
			}
		}()
	}
	stopResend := make(chan struct{})
	var resent atomic.Int64
	if cfg.Resend > 0 {
		go func() {
			t := time.NewTicker(cfg.Resend / 4)
			defer t.Stop()
			for {
				select {
				case <-stopResend:
					return
				case <-t.C:
				}
				now := time.Now()
				for _, gc := range gates {
					gc.mu.Lock()
					renamed := map[string]*sentTap{}
					for id, p := range gc.pending {
						if now.Sub(p.last) < cfg.Resend {
							continue
						}
						p.last = now
						resent.Add(1)
						if cfg.ResendNewID {
							if t, err := proto.DecodeTap(p.payload); err == nil {
								t.EventID = proto.NewEventID(now)
								if b, err := t.Encode(); err == nil {
									p.payload = b
									delete(gc.pending, id)
									renamed[t.EventID] = p
								}
							}
						}
						gc.client.Publish(p.topic, 1, false, p.payload)
					}
					for id, p := range renamed {
						gc.pending[id] = p
					}
					gc.mu.Unlock()
				}
			}
		}()
	}
	defer close(stopResend)
	start := time.Now()
	interval := time.Second / time.Duration(cfg.Rate)
	n := len(cfg.Riders)
	atTap := -1
	if cfg.At != nil {
		atTap = int(cfg.AtShare * float64(total))
	}
	for s := 0; s < total; s++ {
		if s == atTap {
			go cfg.At()
		}
		due := start.Add(time.Duration(s) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				close(jobs)
				wg.Wait()
				return nil, ctx.Err()
			case <-time.After(d):
			}
		}
		r := cfg.Riders[s%n]
		g := r.From
		if (s/n)%2 == 1 {
			g = r.To
		}
		jobs <- tapJob{gate: gates[g], rec: r, due: due}
	}
	close(jobs)
	wg.Wait()
	rep.SendFor = time.Since(start)
	rep.Sent = total
	if v := sendErr.Load(); v != nil {
		return nil, fmt.Errorf("sustain: %v", v)
	}
	deadline := time.Now().Add(cfg.Wait)
	for time.Now().Before(deadline) {
		repMu.Lock()
		done := rep.Decided >= total
		repMu.Unlock()
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	repMu.Lock()
	defer repMu.Unlock()
	rep.Lost = total - rep.Decided
	rep.Late = int(late.Load())
	rep.Resent = int(resent.Load())
	sort.Slice(rep.decidedAt, func(i, j int) bool { return rep.decidedAt[i].Before(rep.decidedAt[j]) })
	for i := 1; i < len(rep.decidedAt); i++ {
		if g := rep.decidedAt[i].Sub(rep.decidedAt[i-1]); g > rep.MaxGap {
			rep.MaxGap = g
		}
	}
	if last := lastDecision.Load(); last > 0 {
		rep.Elapsed = time.Unix(0, last).Sub(start)
	}
	return rep, nil
}

// Ceiling measures the transport alone: clients publish tap-sized
// messages at the broker, a responder answers each on the sender's
// decision-like topic, for d. It reports round trips per second and their
// latency; the platform's rate over it says how much of the transport's
// capacity the platform uses, comparable across machines.
func Ceiling(ctx context.Context, cfg Config, clients int, size int, d time.Duration) (perSecond float64, p99 time.Duration, err error) {
	root := cfg.Topics.Root
	if root == "" {
		root = proto.DefaultRoot
	}
	reqTopic := root + "/ceiling/req/"
	respTopic := root + "/ceiling/resp/"
	user, pass := cfg.User, cfg.Password
	connect := func(id string) (mqtt.Client, error) {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cfg.BrokerURL).SetClientID(id).SetUsername(user).
			SetPassword(pass).SetCleanSession(true).SetAutoReconnect(false).SetMaxResumePubInFlight(1000))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return nil, fmt.Errorf("sustain: ceiling connect: %v", tok.Error())
		}
		return c, nil
	}
	tag := fmt.Sprint(time.Now().UnixNano() % 1e9)
	responder, err := connect("ceiling-r-" + tag)
	if err != nil {
		return 0, 0, err
	}
	defer responder.Disconnect(100)
	if tok := responder.Subscribe(reqTopic+"+", 1, func(c mqtt.Client, m mqtt.Message) {
		id := strings.TrimPrefix(m.Topic(), reqTopic)
		c.Publish(respTopic+id, 1, false, m.Payload())
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return 0, 0, fmt.Errorf("sustain: ceiling subscribe: %v", tok.Error())
	}
	payload := []byte(strings.Repeat("x", size))
	var lats []time.Duration
	var mu sync.Mutex
	var done atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for i := 0; i < clients; i++ {
		c, err := connect(fmt.Sprintf("ceiling-%s-%d", tag, i))
		if err != nil {
			return 0, 0, err
		}
		defer c.Disconnect(100)
		id := fmt.Sprint(i)
		got := make(chan struct{}, 64)
		if tok := c.Subscribe(respTopic+id, 1, func(mqtt.Client, mqtt.Message) { got <- struct{}{} }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return 0, 0, fmt.Errorf("sustain: ceiling subscribe: %v", tok.Error())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A window of 4 requests in flight per client, like a gate
			// with a few riders queued.
			const window = 4
			sent := make(chan time.Time, window)
			for time.Now().Before(stop) && ctx.Err() == nil {
				for len(sent) < window {
					sent <- time.Now()
					c.Publish(reqTopic+id, 1, false, payload)
				}
				select {
				case <-got:
					t0 := <-sent
					mu.Lock()
					lats = append(lats, time.Since(t0))
					mu.Unlock()
					done.Add(1)
				case <-time.After(5 * time.Second):
					return
				}
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	el := time.Since(start)
	return float64(done.Load()) / el.Seconds(), percentile(lats, 99), nil
}
