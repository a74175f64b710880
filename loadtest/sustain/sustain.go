// Package sustain drives the platform with a schedule of taps laid out
// before the run (a flat rate or a morning-rush curve; each rider's trip a
// sequence of taps at metro gates, parking barriers or rail gates) and
// measures what the gates would see: taps per second sustained, decision
// latency from publish to decision (p50/p95/p99/max) over the run and its
// peak window, decisions by reason and kind of device, and, in the same
// run, the ceiling of the transport: a bare MQTT request/response through
// the same broker with a tap-sized message. It speaks only the wire
// contract: gates are MQTT clients publishing taps and reading decisions,
// or real gate agents (Config.Agents); the riders' faces are matched by a
// VNeID provider the caller supplies (in process, and ahead of the run with
// Config.Premint, so that minting assertions is not measured as the
// platform's work).
package sustain

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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

// Step is one tap of a rider's trip: the gate, and at a parking barrier
// the plate its reader reads.
type Step struct {
	Gate  Gate
	Plate string
}

// Rider is a rider's face and trip: the taps they make, in order (entry
// and exit; a transfer's four taps; a parking stay around a journey; one
// pass at a rail gate).
type Rider struct {
	FaceRef string
	Steps   []Step
}

// AgentResult is what a real gate agent did with a tap.
type AgentResult struct {
	// EventID is the tap the agent acted on (the offline tap's id when it
	// decided offline); empty when it made none.
	EventID  string
	Decision proto.Decision
	Offline  bool          // decided by the gate itself
	Latency  time.Duration // publish -> decision, for a decision from the cloud
}

// AgentGate is a real gate agent (turnstile-agent): taps at its device go
// through it, with its own face match, queue and offline decisions, instead
// of being published by the load generator.
type AgentGate interface {
	Tap(ctx context.Context, faceRef, plate string) (AgentResult, error)
}

// Config of a run.
type Config struct {
	BrokerURL, User, Password string
	Topics                    proto.Topics
	// Logins, when set, gives each device its own login (user, password,
	// client id); otherwise every gate uses User/Password.
	Logins func(g Gate) (user, password, clientID string)
	// Schedule is when each tap is due and who makes it (NewSchedule);
	// Riders are its riders, by number.
	Schedule *Schedule
	Riders   []Rider
	// For and Curve are what the schedule was made with: they place the
	// peak window of the report.
	For     time.Duration
	Curve   Curve
	Matcher Matcher
	// Premint mints the assertions before the timed window, as VNeID
	// signs them on its own servers, not on the platform's cores. Taps due
	// within MintLead of the start are minted before it; later ones by a
	// background goroutine, MintLead ahead of their tap (so that no
	// assertion expires before it is used: MintLead must be well under the
	// provider's TTL). Default MintLead 3 minutes.
	Premint  bool
	MintLead time.Duration
	// Agents are real gate agents by device: the scheduled taps at those
	// devices go through them.
	Agents map[string]AgentGate
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
	Start               time.Time     // the first tap's due time
	Elapsed             time.Duration // first publish to last decision
	SendFor             time.Duration // first to last publish
	Latencies           []time.Duration
	Reasons             map[proto.Reason]int
	// ReasonsByKind splits Reasons by the kind of device.
	ReasonsByKind map[proto.Kind]map[proto.Reason]int
	Late          int // taps published more than 50 ms behind schedule (the generator could not keep up)
	Resent        int // taps sent again for want of a decision
	// MaxGap is the longest stretch with no decision at all between the
	// first and the last: an outage as the gates saw it.
	MaxGap    time.Duration
	decidedAt []time.Time
	// SentIDs are the event ids the simulated gates made (the first send
	// of each tap): every one must end up recorded.
	SentIDs []string

	// Minting (Config.Premint): how many assertions were minted before
	// the start and how long that took, how many in the background during
	// the run, and how many a worker had to mint itself because the
	// background had not reached them.
	MintedBefore, MintedAhead, MintedInline int
	MintTook                                time.Duration

	// The peak window (Curve.PeakWindow), as offsets from the start: taps
	// due in it, decisions made in it, and the latencies of its taps.
	PeakFrom, PeakTo      time.Duration
	PeakSent, PeakDecided int
	PeakLatencies         []time.Duration
	// Real gate agents (Config.Agents): taps through them, decided by the
	// cloud or offline by the gate (when), the event ids they acted on,
	// and taps they could not make (an error, no event id).
	AgentTaps, AgentOnline, AgentOffline, AgentOfflineOpened, AgentErrors int
	AgentIDs                                                              []string
	AgentOfflineAt                                                        []time.Time
}

// Rate is decisions per second over the run.
func (r *Report) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Decided) / r.Elapsed.Seconds()
}

// PeakRate is decisions per second made within the peak window.
func (r *Report) PeakRate() float64 {
	if w := r.PeakTo - r.PeakFrom; w > 0 {
		return float64(r.PeakDecided) / w.Seconds()
	}
	return 0
}

// Percentile of the decision latencies (p in 0..100).
func (r *Report) Percentile(p float64) time.Duration { return percentile(r.Latencies, p) }

// PeakPercentile of the decision latencies of the taps due in the peak window.
func (r *Report) PeakPercentile(p float64) time.Duration { return percentile(r.PeakLatencies, p) }

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
	due         time.Duration
	topic       string
	payload     []byte
}

// mintChunk is how many taps the minter handles at a time.
const mintChunk = 1024

// minter holds the assertions minted ahead, one per scheduled tap.
type minter struct {
	cfg        *Config
	assertions []string
	done       []atomic.Bool // per chunk: every assertion in it minted
}

func (m *minter) mint(ctx context.Context, c, width int) (int, error) {
	lo, hi := c*mintChunk, min((c+1)*mintChunk, len(m.assertions))
	var wg sync.WaitGroup
	var first atomic.Value
	var n atomic.Int64
	for w := 0; w < width; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := lo + w; s < hi; s += width {
				slot := m.cfg.Schedule.Slots[s]
				st := m.cfg.Riders[slot.Rider].Steps[slot.Step]
				if m.cfg.Agents[st.Gate.Device] != nil {
					continue // a real agent matches the face itself
				}
				a, _, err := m.cfg.Matcher.Match(ctx, m.cfg.Riders[slot.Rider].FaceRef, st.Gate.Device)
				if err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				m.assertions[s] = a
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return int(n.Load()), fmt.Errorf("sustain: mint: %w", err)
	}
	m.done[c].Store(true)
	return int(n.Load()), nil
}

// take returns tap s's minted assertion, if it is ready.
func (m *minter) take(s int) (string, bool) {
	if m == nil || !m.done[s/mintChunk].Load() {
		return "", false
	}
	a := m.assertions[s]
	m.assertions[s] = "" // used once; let it go
	return a, a != ""
}

// Run sends the scheduled taps and reports.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Schedule == nil || len(cfg.Schedule.Due) == 0 || len(cfg.Riders) < cfg.Schedule.Riders || cfg.Matcher == nil {
		return nil, errors.New("sustain: a schedule, its riders and a matcher are required")
	}
	for _, sl := range cfg.Schedule.Slots {
		if int(sl.Step) >= len(cfg.Riders[sl.Rider].Steps) {
			return nil, fmt.Errorf("sustain: rider %d has no step %d", sl.Rider, sl.Step)
		}
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 10 * time.Second
	}
	if cfg.MintLead <= 0 {
		cfg.MintLead = 3 * time.Minute
	}
	if cfg.For <= 0 {
		cfg.For = cfg.Schedule.Due[len(cfg.Schedule.Due)-1]
	}
	total := len(cfg.Schedule.Due)
	rep := &Report{Reasons: map[proto.Reason]int{}, ReasonsByKind: map[proto.Kind]map[proto.Reason]int{}}
	rep.PeakFrom, rep.PeakTo = cfg.Curve.PeakWindow(cfg.For)
	for _, d := range cfg.Schedule.Due {
		if d >= rep.PeakFrom && d < rep.PeakTo {
			rep.PeakSent++
		}
	}
	var repMu sync.Mutex
	var lastDecision atomic.Int64
	countReason := func(kind proto.Kind, r proto.Reason) {
		rep.Reasons[r]++
		if rep.ReasonsByKind[kind] == nil {
			rep.ReasonsByKind[kind] = map[proto.Reason]int{}
		}
		rep.ReasonsByKind[kind][r]++
	}
	gates := map[Gate]*gateConn{}
	for _, r := range cfg.Riders[:cfg.Schedule.Riders] {
		for _, st := range r.Steps {
			if gates[st.Gate] == nil && cfg.Agents[st.Gate.Device] == nil {
				gates[st.Gate] = &gateConn{g: st.Gate, pending: map[string]*sentTap{}}
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
			lat := now.Sub(sent.first)
			repMu.Lock()
			rep.Decided++
			rep.Latencies = append(rep.Latencies, lat)
			rep.decidedAt = append(rep.decidedAt, now)
			countReason(gc.g.Kind, d.Reason)
			if sent.due >= rep.PeakFrom && sent.due < rep.PeakTo {
				rep.PeakLatencies = append(rep.PeakLatencies, lat)
			}
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

	// Assertions minted ahead: those of the taps due within MintLead now,
	// on every core, the rest in the background as the run goes.
	var mt *minter
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	var mintedAhead atomic.Int64
	var mintErr atomic.Value
	// background, when set, mints the chunks not minted before the start,
	// each MintLead ahead of its first tap (it needs the start time).
	var background func(start time.Time)
	if cfg.Premint {
		chunks := (total + mintChunk - 1) / mintChunk
		mt = &minter{cfg: &cfg, assertions: make([]string, total), done: make([]atomic.Bool, chunks)}
		t0 := time.Now()
		first := 0
		for ; first < chunks && cfg.Schedule.Due[first*mintChunk] < cfg.MintLead; first++ {
			n, err := mt.mint(ctx, first, 2*runtime.GOMAXPROCS(0))
			if err != nil {
				return nil, err
			}
			rep.MintedBefore += n
		}
		rep.MintTook = time.Since(t0)
		if first < chunks {
			background = func(start time.Time) {
				go func() {
					for c := first; c < chunks; c++ {
						if !sleepUntil(runCtx, start.Add(cfg.Schedule.Due[c*mintChunk]-cfg.MintLead)) {
							return
						}
						if time.Since(start) > cfg.Schedule.Due[min((c+1)*mintChunk, total)-1] {
							continue // behind: the workers mint these at their taps
						}
						n, err := mt.mint(runCtx, c, 2)
						mintedAhead.Add(int64(n))
						if err != nil {
							mintErr.Store(err)
							return
						}
					}
				}()
			}
		}
	}

	// One scheduler hands taps to workers that mint the assertion (unless
	// minted ahead) and publish.
	jobs := make(chan int, 4096)
	var wg, agentWG sync.WaitGroup
	var late, inline atomic.Int64
	var sendErr atomic.Value
	var start time.Time
	workers := 32
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range jobs {
				slot := cfg.Schedule.Slots[s]
				rider := cfg.Riders[slot.Rider]
				st := rider.Steps[slot.Step]
				g := st.Gate
				due := start.Add(cfg.Schedule.Due[s])
				if ag := cfg.Agents[g.Device]; ag != nil {
					agentWG.Add(1)
					go func() {
						defer agentWG.Done()
						res, err := ag.Tap(ctx, rider.FaceRef, st.Plate)
						now := time.Now()
						repMu.Lock()
						defer repMu.Unlock()
						rep.AgentTaps++
						if err != nil || res.EventID == "" {
							rep.AgentErrors++
							return
						}
						rep.AgentIDs = append(rep.AgentIDs, res.EventID)
						rep.Decided++
						rep.decidedAt = append(rep.decidedAt, now)
						countReason(g.Kind, res.Decision.Reason)
						if res.Offline {
							rep.AgentOffline++
							rep.AgentOfflineAt = append(rep.AgentOfflineAt, now)
							if res.Decision.Open {
								rep.AgentOfflineOpened++
							}
							return
						}
						rep.AgentOnline++
						rep.Latencies = append(rep.Latencies, res.Latency)
						if d := cfg.Schedule.Due[s]; d >= rep.PeakFrom && d < rep.PeakTo {
							rep.PeakLatencies = append(rep.PeakLatencies, res.Latency)
						}
					}()
					continue
				}
				a, ok := mt.take(s)
				if !ok {
					var err error
					if a, _, err = cfg.Matcher.Match(ctx, rider.FaceRef, g.Device); err != nil {
						sendErr.Store(err)
						continue
					}
					inline.Add(1)
				}
				now := time.Now()
				if now.Sub(due) > 50*time.Millisecond {
					late.Add(1)
				}
				t := proto.Tap{EventID: proto.NewEventID(now), Device: g.Device, Site: g.Site, Kind: g.Kind,
					Assertion: a, CapturedAt: proto.At(now), Plate: st.Plate}
				b, err := t.Encode()
				if err != nil {
					sendErr.Store(err)
					continue
				}
				gc := gates[g]
				topic := cfg.Topics.Taps(g.Site, g.Device)
				repMu.Lock()
				rep.SentIDs = append(rep.SentIDs, t.EventID)
				repMu.Unlock()
				gc.mu.Lock()
				gc.pending[t.EventID] = &sentTap{first: now, last: now, due: cfg.Schedule.Due[s], topic: topic, payload: b}
				gc.mu.Unlock()
				gc.client.Publish(topic, 1, false, b)
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
	// The workers read start: it is set before the first job is sent.
	start = time.Now()
	rep.Start = start
	if background != nil {
		background(start)
	}
	atTap := -1
	if cfg.At != nil {
		atTap = int(cfg.AtShare * float64(total))
	}
	for s := 0; s < total; s++ {
		if s == atTap {
			go cfg.At()
		}
		if !sleepUntil(ctx, start.Add(cfg.Schedule.Due[s])) {
			close(jobs)
			wg.Wait()
			return nil, ctx.Err()
		}
		jobs <- s
	}
	close(jobs)
	wg.Wait()
	rep.SendFor = time.Since(start)
	rep.Sent = total
	if v := sendErr.Load(); v != nil {
		return nil, fmt.Errorf("sustain: %v", v)
	}
	if v := mintErr.Load(); v != nil {
		return nil, v.(error)
	}
	agentWG.Wait() // an agent answers within its decision timeout, online or offline
	deadline := time.Now().Add(cfg.Wait)
	for time.Now().Before(deadline) {
		repMu.Lock()
		done := rep.Decided+rep.AgentErrors >= total
		repMu.Unlock()
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancelRun()
	repMu.Lock()
	defer repMu.Unlock()
	rep.Lost = total - rep.Decided
	rep.Late = int(late.Load())
	rep.Resent = int(resent.Load())
	rep.MintedAhead = int(mintedAhead.Load())
	rep.MintedInline = int(inline.Load())
	sort.Slice(rep.decidedAt, func(i, j int) bool { return rep.decidedAt[i].Before(rep.decidedAt[j]) })
	for i := 1; i < len(rep.decidedAt); i++ {
		if g := rep.decidedAt[i].Sub(rep.decidedAt[i-1]); g > rep.MaxGap {
			rep.MaxGap = g
		}
	}
	for _, at := range rep.decidedAt {
		if d := at.Sub(start); d >= rep.PeakFrom && d < rep.PeakTo {
			rep.PeakDecided++
		}
	}
	last := lastDecision.Load()
	if n := len(rep.decidedAt); n > 0 && rep.decidedAt[n-1].UnixNano() > last {
		last = rep.decidedAt[n-1].UnixNano()
	}
	if last > 0 {
		rep.Elapsed = time.Unix(0, last).Sub(start)
	}
	return rep, nil
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
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
