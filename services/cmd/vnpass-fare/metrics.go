package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/proto"
)

// What operators watch on every replica, besides the counters (names kept
// stable: the alerting rules are written against them):
//
//   - vnpass_decision_seconds, a histogram of how long the service took
//     from handing a tap to the decision logic to having the decision to
//     publish (one observation per decision published or attempted: first
//     decisions and redelivered taps answered from the store alike);
//   - vnpass_settlement_lag_seconds, the age of the oldest tap or finished
//     journey settled in PostgreSQL and not yet in ClickHouse (a query of one
//     row per kind, at most every lagCacheFor; the same figure on every
//     replica, since the outbox is the database's);
//   - vnpass_reconcile_differences{day}, the differences the last
//     reconciliation in this process found for the previous local day (the
//     service reconciles that closed day every reconcileEvery; a day still
//     running would show a collection half way through as a difference), with
//     vnpass_reconcile_last_run_timestamp_seconds to tell a stale result;
//   - vnpass_replica_info{instance}, 1: which replica answered.

// decisionBuckets are the upper bounds of vnpass_decision_seconds: a gate
// waits 2 s by default, so 2.5 s is beyond anything a gate still uses.
var decisionBuckets = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

const (
	lagCacheFor    = 5 * time.Second
	lagQueryLimit  = 2 * time.Second
	reconcileEvery = time.Hour
	reconcileAfter = time.Minute // after start: not in the way of a replica coming up
)

// histogram is a Prometheus histogram of durations, safe for concurrent use
// without locks; its zero value is ready.
type histogram struct {
	buckets [len(decisionBuckets)]atomic.Uint64 // non-cumulative; summed when written
	count   atomic.Uint64
	sumNs   atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	for i, le := range decisionBuckets {
		if s <= le {
			h.buckets[i].Add(1)
			break
		}
	}
	h.count.Add(1)
	h.sumNs.Add(int64(d))
}

func (h *histogram) write(b *strings.Builder, name, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	// count is read first: the buckets may only have grown since, and +Inf
	// must not be below the last bucket.
	count := h.count.Load()
	var cum uint64
	for i, le := range decisionBuckets {
		cum += h.buckets[i].Load()
		if cum > count {
			cum = count
		}
		fmt.Fprintf(b, "%s_bucket{le=%q} %d\n", name, strconv.FormatFloat(le, 'f', -1, 64), cum)
	}
	fmt.Fprintf(b, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", name, count,
		name, formatFloat(time.Duration(h.sumNs.Load()).Seconds()), name, count)
}

// serviceMetrics is the state behind the gauges and the histogram; the
// zero value is ready (a field of Main).
type serviceMetrics struct {
	decision histogram

	lagMu  sync.Mutex
	lagAt  time.Time // when lag was last read
	lag    float64
	lagErr error

	recMu       sync.Mutex
	recDay      string // the day the last reconciliation proved
	recDiffs    int
	recAt       time.Time // when it finished
	recFailures atomic.Int64
}

// timedHandler measures each decision of the tap handler it wraps.
type timedHandler struct {
	next admission.TapHandler
	hist *histogram
}

func (h timedHandler) Handle(ctx context.Context, topic string, payload []byte) (admission.Reply, error) {
	start := time.Now()
	r, err := h.next.Handle(ctx, topic, payload)
	if err == nil && r.Payload != nil {
		// A tap that is not recorded (err) is handled again; a malformed
		// one has no decision.
		h.hist.observe(time.Since(start))
	}
	return r, err
}

// timed wraps the tap handler so that vnpass_decision_seconds sees every
// decision.
func (m *Main) timed(h admission.TapHandler) admission.TapHandler {
	return timedHandler{next: h, hist: &m.obs.decision}
}

// settlementLag returns the seconds since the oldest tap or journey not yet
// in ClickHouse was settled, read at most every lagCacheFor.
func (m *Main) settlementLag() (float64, error) {
	o := &m.obs
	o.lagMu.Lock()
	defer o.lagMu.Unlock()
	now := m.Config.Now()
	if !o.lagAt.IsZero() && now.Sub(o.lagAt) < lagCacheFor {
		return o.lag, o.lagErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), lagQueryLimit)
	defer cancel()
	oldest, err := m.Store.OldestUnexported(ctx)
	o.lagAt, o.lagErr, o.lag = now, err, 0
	if err == nil && !oldest.IsZero() {
		o.lag = math.Max(0, now.Sub(oldest).Seconds())
	}
	if err != nil {
		m.Log.Warn("settlement lag not read", "err", err)
	}
	return o.lag, o.lagErr
}

// reconcileDay reconciles one local day (with the payment provider's
// report, as GET /v1/reconciliation does) and keeps the number of
// differences for vnpass_reconcile_differences.
func (m *Main) reconcileDay(ctx context.Context, day time.Time) (int, error) {
	reports, err := m.providerReports(ctx, day)
	if err != nil {
		m.obs.recFailures.Add(1)
		return 0, fmt.Errorf("reconcile %s: provider report: %w", day.Format(time.DateOnly), err)
	}
	r, err := m.Store.Reconcile(ctx, day, reports)
	if err != nil {
		m.obs.recFailures.Add(1)
		return 0, fmt.Errorf("reconcile %s: %w", day.Format(time.DateOnly), err)
	}
	o := &m.obs
	o.recMu.Lock()
	o.recDay, o.recDiffs, o.recAt = r.Day, len(r.Differences), m.Config.Now()
	o.recMu.Unlock()
	if !r.OK() {
		// The differences themselves: vnpass-fare reconcile -day, or GET /v1/reconciliation.
		m.Log.Error("reconciliation found differences", "day", r.Day, "count", len(r.Differences))
	}
	return len(r.Differences), nil
}

// reconcileYesterday runs until ctx ends: the previous local day is
// reconciled reconcileAfter the start and then every reconcileEvery.
func (m *Main) reconcileYesterday(ctx context.Context) {
	wait := reconcileAfter
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = reconcileEvery
		y, _ := fare.Day(m.Config.Now())
		y = y.Add(-12 * time.Hour) // inside the previous local day
		runCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		_, err := m.reconcileDay(runCtx, y)
		cancel()
		if err != nil && ctx.Err() == nil {
			m.Log.Warn("scheduled reconciliation failed", "err", err)
		}
	}
}

// metrics writes the Prometheus text exposition of the service.
func (m *Main) metrics(b *strings.Builder) {
	s := m.Proc.Stats()
	in := m.Ingest.Stats()
	line := func(name, help string, v int64) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help, labels string, v float64) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n%s%s %s\n", name, help, name, name, labels, formatFloat(v))
	}
	gauge("vnpass_replica_info", "This replica of the fare service (its instance name).",
		fmt.Sprintf("{instance=%q}", m.Config.Instance), 1)
	line("vnpass_taps_received_total", "Tap messages received from MQTT.", in.Received.Load())
	line("vnpass_taps_malformed_total", "Tap messages dropped because they did not decode.", s.Malformed.Load())
	fmt.Fprintf(b, "# HELP vnpass_taps_rate_limited_total Taps over their gate's rate: paced (held, decided later) or dropped (the gate sends them again).\n# TYPE vnpass_taps_rate_limited_total counter\n")
	fmt.Fprintf(b, "vnpass_taps_rate_limited_total{action=\"paced\"} %d\nvnpass_taps_rate_limited_total{action=\"dropped\"} %d\n", in.Paced.Load(), in.RateDropped.Load())
	if lag, serving, ok := m.Store.ReplicaLag(); ok {
		gauge("vnpass_pg_replica_lag_seconds", "Lag of the PostgreSQL replica serving stale-tolerant reads (VNPASS_PG_READ_URL).", "", lag.Seconds())
		v := 0.0
		if serving {
			v = 1
		}
		gauge("vnpass_pg_replica_serving", "1 while stale-tolerant reads go to the replica, 0 while it lags and the primary serves them.", "", v)
	}
	line("vnpass_taps_duplicate_total", "Redelivered taps answered with their stored decision.", s.Duplicates.Load())
	line("vnpass_decisions_published_total", "Decisions published to gates.", in.Replied.Load())
	line("vnpass_decision_publish_errors_total", "Decisions that could not be published.", in.PublishErrors.Load())
	line("vnpass_store_errors_total", "Taps that could not be recorded (retried).", s.StoreErrors.Load())
	line("vnpass_taps_given_up_total", "Taps still not recorded after their retries (30 s): acknowledged without a decision, left with the gate to send again. Any is worth a look: a tap the database refuses each time.", in.GivenUp.Load())
	fmt.Fprintf(b, "# HELP vnpass_decisions_total Decisions by reason.\n# TYPE vnpass_decisions_total counter\n")
	byReason := s.Decisions()
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, string(r))
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(b, "vnpass_decisions_total{reason=%q} %d\n", r, byReason[proto.Reason(r)])
	}
	m.obs.decision.write(b, "vnpass_decision_seconds",
		"Time from a tap handed to the decision logic to its decision ready to publish.")
	// A lag that could not be read is left out (an alert on its absence
	// sees it) rather than shown as 0.
	if lag, err := m.settlementLag(); err == nil {
		gauge("vnpass_settlement_lag_seconds",
			"Age of the oldest tap or journey settled in PostgreSQL and not yet exported to ClickHouse (0: none).", "", lag)
	}
	o := &m.obs
	o.recMu.Lock()
	day, diffs, at := o.recDay, o.recDiffs, o.recAt
	o.recMu.Unlock()
	if day != "" {
		gauge("vnpass_reconcile_differences", "Differences the last reconciliation run by this replica found (the previous local day).",
			fmt.Sprintf("{day=%q}", day), float64(diffs))
		gauge("vnpass_reconcile_last_run_timestamp_seconds", "When this replica's last reconciliation finished (Unix time).",
			"", float64(at.UnixMilli())/1000)
	}
	line("vnpass_reconcile_failures_total", "Scheduled reconciliations that could not run.", o.recFailures.Load())
	m.parkingMetrics(b)
}

// formatFloat writes a sample value as Prometheus reads it.
func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}
