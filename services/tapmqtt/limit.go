package tapmqtt

import (
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// The per-device tap limit.
//
// A gate taps about once a second; a broken or compromised one can publish
// as fast as the broker takes it, and every tap it sends is decided in turn
// by the same workers as every other gate's (measured: a 1,000-tap flood
// from one gate took another gate's worst decision from ~7 ms to ~180 ms).
// So each device (one taps topic: the broker's ACL keeps a device to its
// own) has a token bucket, checked as a tap arrives and before it reaches
// the workers:
//
//   - within the rate, the tap goes to the workers at once;
//   - over it, the tap is held and paced: handed to the workers as the
//     device's bucket refills, in arrival order (a gate draining its
//     offline queue after an outage is slowed, not refused);
//   - over the rate with Hold taps already held, it is dropped: no
//     decision is sent, and the message is acknowledged to the broker.
//
// Dropping, not refusing, is what loses nothing. The gate keeps every tap
// on disk until a decision for its event id comes back, and sends again
// what goes unanswered; a refusal would be that decision, and the gate
// would forget the tap, so a tap it had already let through offline would
// never be charged. A dropped tap is sent again and decided then, once,
// by its event id. Hold is the turnstile agent's window (the most taps it
// has sent and not yet had decided, agent.DefaultWindow): a gate running
// the agent never has more than that outstanding, so it is only ever
// paced; only a device sending without waiting for decisions is dropped.
//
// Held taps are acknowledged to the broker when they are held, so that they
// do not fill the broker's in-flight window for this connection (which
// would stall every gate's taps); a replica that stops loses what it held,
// which the gates send again, as with any tap in progress (the session is
// clean, see the package comment).

// Limit bounds the taps of one device.
type Limit struct {
	// Rate is the taps per second a device may have decided, sustained;
	// default 20 (a gate taps about once a second). Negative: no limit.
	Rate float64
	// Burst is how many taps a device may send at once after a quiet
	// spell; default 2*Rate.
	Burst int
	// Hold is the most taps per device held over the rate; more are
	// dropped. Default 512.
	Hold int
}

// Defaults of Limit.
const (
	DefaultTapRate = 20
	DefaultTapHold = 512
	// limitLogEvery is how often a device over its rate is logged.
	limitLogEvery = time.Minute
)

func (l *Limit) ensureDefaults() {
	if l.Rate == 0 {
		l.Rate = DefaultTapRate
	}
	if l.Burst <= 0 {
		l.Burst = max(1, int(2*l.Rate))
	}
	if l.Hold <= 0 {
		l.Hold = DefaultTapHold
	}
}

// verdict of the limiter on one tap.
type verdict int

const (
	admitted verdict = iota // to the workers now
	held                    // paced: release hands it to the workers later
	dropped                 // over the rate and the hold is full
)

// limiter keeps one bucket per device topic.
type limiter struct {
	rate, burst float64
	hold        int
	now         func() time.Time
	release     func(topic string) // schedules the release of a topic's held taps
	report      func(topic string, paced, dropped int64)

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens    float64
	last      time.Time
	held      []mqtt.Message // oldest first
	releasing bool           // a release is scheduled
	// over the rate since the device was last reported
	paced, dropped int64
	reported       time.Time
}

func newLimiter(l Limit, now func() time.Time) *limiter {
	return &limiter{rate: l.Rate, burst: float64(l.Burst), hold: l.Hold, now: now,
		buckets: map[string]*bucket{}, lastSweep: now()}
}

// refill adds the tokens earned since the bucket was last looked at.
func (l *limiter) refill(b *bucket, now time.Time) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(l.burst, b.tokens+dt*l.rate)
	}
	b.last = now
}

// admit decides what becomes of a tap that arrived on topic.
func (l *limiter) admit(topic string, m mqtt.Message) verdict {
	now := l.now()
	l.mu.Lock()
	b := l.buckets[topic]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[topic] = b
	}
	l.refill(b, now)
	var v verdict
	switch {
	case len(b.held) == 0 && b.tokens >= 1:
		b.tokens--
		v = admitted
	case len(b.held) < l.hold:
		b.held = append(b.held, m)
		b.paced++
		v = held
	default:
		b.dropped++
		v = dropped
	}
	startRelease := v == held && !b.releasing
	if startRelease {
		b.releasing = true
	}
	var paced, drops int64
	if v != admitted && now.Sub(b.reported) >= limitLogEvery {
		paced, drops, b.paced, b.dropped, b.reported = b.paced, b.dropped, 0, 0, now
	}
	sweep := l.sweepLocked(now)
	l.mu.Unlock()
	if startRelease {
		l.release(topic)
	}
	if paced+drops > 0 {
		l.report(topic, paced, drops)
	}
	for t, c := range sweep {
		l.report(t, c[0], c[1])
	}
	return v
}

// next takes the held taps of topic that the bucket now allows, and says
// how long to wait before the next one can go (0: none left; the release
// ends).
func (l *limiter) next(topic string) ([]mqtt.Message, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[topic]
	if b == nil {
		return nil, 0
	}
	l.refill(b, now)
	n := min(len(b.held), int(b.tokens))
	out := append([]mqtt.Message(nil), b.held[:n]...)
	clear(b.held[:n])
	b.held = b.held[n:]
	b.tokens -= float64(n)
	if len(b.held) == 0 {
		b.held = nil
		b.releasing = false
		return out, 0
	}
	return out, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweepLocked forgets, at most once a minute, the buckets of devices that
// have been quiet long enough for their bucket to be full again, and
// returns the devices whose taps over the rate were not reported yet.
func (l *limiter) sweepLocked(now time.Time) map[string][2]int64 {
	if now.Sub(l.lastSweep) < limitLogEvery {
		return nil
	}
	l.lastSweep = now
	var unreported map[string][2]int64
	for topic, b := range l.buckets {
		if (b.paced > 0 || b.dropped > 0) && now.Sub(b.reported) >= limitLogEvery {
			if unreported == nil {
				unreported = map[string][2]int64{}
			}
			unreported[topic] = [2]int64{b.paced, b.dropped}
			b.paced, b.dropped, b.reported = 0, 0, now
		}
		full := b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst
		if full && len(b.held) == 0 && !b.releasing && b.paced == 0 && b.dropped == 0 {
			delete(l.buckets, topic)
		}
	}
	return unreported
}

// devices is the number of devices with a bucket (for tests).
func (l *limiter) devices() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
