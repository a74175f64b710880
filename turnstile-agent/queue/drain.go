package queue

import (
	"context"
	"time"
)

// DrainOptions pace a Drain.
type DrainOptions struct {
	// Rate is the most records per second handed to send, on average; 0
	// means as fast as send returns. After a reconnect a whole station's
	// gates drain at once: the rate keeps them from flooding the broker.
	Rate float64
	// Burst is how many records may go at once after a quiet spell. It only
	// applies with a Rate; default Rate/10, at least 1.
	Burst int
	// Batch is the most records per call of send; default 64, and never
	// more than Burst.
	Batch int
	// BatchBytes is the most payload bytes per call of send past its first
	// record; default 256 KiB.
	BatchBytes int
}

// Drain hands the queue's records to send, oldest first, each once, in
// batches and at the pace set by o. When it has sent everything it waits for
// new records, so one Drain can carry a gate's taps online and offline alike.
// It returns when ctx is done, when send fails (with send's error), or when
// the queue is closed (ErrClosed).
//
// Drain does not acknowledge anything: whoever learns that the cloud has a
// record calls Ack, and until then the record stays on disk. A record sent
// but never acknowledged is not sent again by the same Drain; start a new
// one (after a reconnect, say) and it begins again at the oldest record not
// yet acknowledged. The cloud drops repeats by event id, so that is safe.
func (q *Queue) Drain(ctx context.Context, o DrainOptions, send func(ctx context.Context, batch []Record) error) error {
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 256 << 10
	}
	var tb *tokenBucket
	if o.Rate > 0 {
		if o.Burst <= 0 {
			o.Burst = max(1, int(o.Rate/10))
		}
		o.Batch = min(o.Batch, o.Burst)
		tb = &tokenBucket{rate: o.Rate, burst: float64(o.Burst), tokens: float64(o.Burst), last: time.Now()}
	}

	var after uint64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Take the channel before looking, so a record appended after the
		// look still wakes us.
		q.mu.Lock()
		changed := q.changed
		q.mu.Unlock()
		recs, err := q.Scan(after, o.Batch, o.BatchBytes)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-changed:
				continue
			}
		}
		if tb != nil {
			if err := tb.take(ctx, len(recs)); err != nil {
				return err
			}
		}
		if err := send(ctx, recs); err != nil {
			return err
		}
		after = recs[len(recs)-1].Seq
	}
}

// tokenBucket paces Drain: tokens accrue at rate per second up to burst, and
// each record spends one.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// take waits until n tokens are available, then spends them. n is at most
// burst.
func (tb *tokenBucket) take(ctx context.Context, n int) error {
	for {
		now := time.Now()
		tb.tokens = min(tb.burst, tb.tokens+now.Sub(tb.last).Seconds()*tb.rate)
		tb.last = now
		if tb.tokens >= float64(n) {
			tb.tokens -= float64(n)
			return nil
		}
		wait := time.Duration((float64(n) - tb.tokens) / tb.rate * float64(time.Second))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
