package main

import (
	"context"
	"fmt"
	"github.com/vnpass/vnpass/internal/testenv"
	"io"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
)

// exposition is a scrape of /metrics, parsed strictly.
type exposition struct {
	types   map[string]string  // family -> counter, gauge, histogram
	samples map[string]float64 // series (name{labels} as written, labels sorted) -> value
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelPair  = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"`)
)

// parseExposition reads the Prometheus text format (version 0.0.4) and
// fails the test on any line that is not a HELP, a TYPE or a sample, on a
// sample with no TYPE before it, on a repeated series or TYPE, and on a
// histogram whose buckets are not cumulative or whose +Inf bucket is not its
// count.
func parseExposition(t *testing.T, text string) exposition {
	t.Helper()
	e := exposition{types: map[string]string{}, samples: map[string]float64{}}
	if !strings.HasSuffix(text, "\n") {
		t.Errorf("exposition does not end with a newline")
	}
	family := func(name string) string {
		if e.types[name] != "" {
			return name
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok && e.types[base] == "histogram" {
				return base
			}
		}
		return ""
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		bad := func(why string) { t.Errorf("line %d %q: %s", i+1, line, why) }
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			f := strings.SplitN(rest, " ", 3)
			if len(f) < 3 || !metricName.MatchString(f[1]) {
				bad("malformed comment")
				continue
			}
			switch f[0] {
			case "HELP":
			case "TYPE":
				if e.types[f[1]] != "" {
					bad("second TYPE")
				}
				if f[2] != "counter" && f[2] != "gauge" && f[2] != "histogram" {
					bad("unknown type")
				}
				e.types[f[1]] = f[2]
			default:
				bad("comment is neither HELP nor TYPE")
			}
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		var labels []string
		if j := strings.IndexByte(name, '{'); j >= 0 {
			// Labels may hold spaces: take the sample up to its closing brace.
			k := strings.LastIndex(line, "} ")
			if k < j {
				bad("unclosed labels")
				continue
			}
			name, rest = line[:j], line[k+2:]
			ls := line[j+1 : k]
			for ls != "" {
				m := labelPair.FindStringSubmatch(ls)
				if m == nil {
					bad("malformed label")
					break
				}
				labels = append(labels, m[0])
				ls = strings.TrimPrefix(ls[len(m[0]):], ",")
			}
		}
		if !metricName.MatchString(name) {
			bad("bad metric name")
			continue
		}
		if family(name) == "" {
			bad("sample with no TYPE before it")
		}
		v, err := strconv.ParseFloat(rest, 64)
		if err != nil && rest != "+Inf" && rest != "-Inf" && rest != "NaN" {
			bad("value does not parse")
			continue
		}
		sort.Strings(labels)
		series := name + "{" + strings.Join(labels, ",") + "}"
		if _, dup := e.samples[series]; dup {
			bad("repeated series")
		}
		e.samples[series] = v
	}
	// Histograms: buckets ascending in le and cumulative, +Inf = count.
	for name, typ := range e.types {
		if typ != "histogram" {
			continue
		}
		type bucket struct{ le, n float64 }
		var bs []bucket
		for s, v := range e.samples {
			if m := regexp.MustCompile(`^` + name + `_bucket\{le="([^"]+)"\}$`).FindStringSubmatch(s); m != nil {
				le, err := strconv.ParseFloat(m[1], 64)
				if err != nil {
					t.Errorf("%s: le %q", s, m[1])
				}
				bs = append(bs, bucket{le, v})
			}
		}
		sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
		if len(bs) == 0 || !math.IsInf(bs[len(bs)-1].le, 1) {
			t.Errorf("histogram %s has no +Inf bucket", name)
			continue
		}
		for i := 1; i < len(bs); i++ {
			if bs[i].n < bs[i-1].n {
				t.Errorf("histogram %s: bucket le=%g (%g) below le=%g (%g)", name, bs[i].le, bs[i].n, bs[i-1].le, bs[i-1].n)
			}
		}
		if c, ok := e.samples[name+"_count{}"]; !ok || c != bs[len(bs)-1].n {
			t.Errorf("histogram %s: count %g, +Inf bucket %g", name, c, bs[len(bs)-1].n)
		}
		if _, ok := e.samples[name+"_sum{}"]; !ok {
			t.Errorf("histogram %s has no sum", name)
		}
	}
	return e
}

// value returns a series' value; series is name{labels} with labels sorted.
func (e exposition) value(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := e.samples[series]
	if !ok {
		t.Fatalf("no series %s in the scrape", series)
	}
	return v
}

func (p *platform) scrape() exposition {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.apiURL+"/metrics", nil)
	if tok := p.main.Config.MetricsToken; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		p.t.Fatalf("/metrics: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	return parseExposition(p.t, string(b))
}

// TestMetricsOperatorsNeed: after a few taps (one delivered twice), the
// decision histogram counts every decision sent, the settlement lag shows
// taps ClickHouse does not hold yet and falls to 0 once they are exported,
// the last reconciliation's differences are shown (0, then 1 for a tap that
// opened a gate and belongs to no journey), and the replica says who it is.
// The exposition parses strictly.
func TestMetricsOperatorsNeed(t *testing.T) {
	// The exporter runs once at start and then not for an hour: the test
	// exports by hand.
	p := startPlatformWith(t, func(c *Config) {
		c.ExportInterval = time.Hour
		c.MetricsToken = "scrape-" + testenv.Name("")
	})
	ctx := context.Background()
	// The scrape token is asked for: none, or a wrong one, gets 401.
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + p.main.Config.MetricsToken + "x", p.main.Config.MetricsToken} {
		req, _ := http.NewRequest("GET", p.apiURL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/metrics with Authorization %q: %s, want 401", auth, resp.Status)
		}
	}
	in := p.rawGate("hn2a-lang", "hn2a-lang-in01")
	out := p.rawGate("hn2a-van-quan", "hn2a-van-quan-out01")
	const riders = 3
	decisions := 0
	for i := 0; i < riders; i++ {
		_, face := p.rider(fmt.Sprintf("001088%06d", i))
		wantReason(t, "entry", in.send(proto.KindMetroEntry, p.assertion(face, in.dev)), proto.ReasonOK)
		tp, b := out.tap(proto.KindMetroExit, p.assertion(face, out.dev))
		out.publish(b)
		wantReason(t, "exit", out.decision(tp.EventID), proto.ReasonOK)
		decisions += 2
		if i == 0 {
			out.publish(b) // delivered again: answered from the store, a decision too
			out.decision(tp.EventID)
			decisions++
		}
	}
	// The last decision may be counted just after the gate has it.
	var e exposition
	waitFor(t, 10*time.Second, "every decision published to be counted", func() (bool, string) {
		e = p.scrape()
		n := e.value(t, "vnpass_decisions_published_total{}")
		return n == float64(decisions), fmt.Sprintf("%g published, want %d", n, decisions)
	})
	if got := e.value(t, "vnpass_decision_seconds_count{}"); got != float64(decisions) {
		t.Errorf("vnpass_decision_seconds_count %g, want %d decisions", got, decisions)
	}
	if got := e.value(t, `vnpass_decision_seconds_bucket{le="2.5"}`); got != float64(decisions) {
		t.Errorf("%g decisions within 2.5 s, want all %d", got, decisions)
	}
	if s := e.value(t, "vnpass_decision_seconds_sum{}"); s <= 0 || s > float64(decisions)*2.5 {
		t.Errorf("vnpass_decision_seconds_sum %g", s)
	}
	if e.types["vnpass_decision_seconds"] != "histogram" || e.types["vnpass_settlement_lag_seconds"] != "gauge" {
		t.Errorf("types %v", e.types)
	}
	if v := e.value(t, fmt.Sprintf(`vnpass_replica_info{instance=%q}`, p.cfg.Instance)); v != 1 {
		t.Errorf("vnpass_replica_info %g", v)
	}
	if _, ok := e.samples[`vnpass_reconcile_differences{}`]; ok {
		t.Error("reconciliation differences shown before any reconciliation ran")
	}

	// Settlement lag: nothing exported since the first tap, received more
	// than the time the taps took.
	var firstTap time.Time
	if err := p.main.Store.Pool().QueryRow(ctx, "SELECT min(received_at) FROM taps").Scan(&firstTap); err != nil {
		t.Fatal(err)
	}
	lag := e.value(t, "vnpass_settlement_lag_seconds{}")
	if want := time.Since(firstTap).Seconds(); lag <= 0 || lag > want+1 {
		t.Errorf("settlement lag %gs with nothing exported since a tap %.3fs ago", lag, want)
	}
	// The outbox holds rows back while an older write transaction runs
	// anywhere on the server (other tests' databases share it): export
	// until everything is out.
	exported := 0
	for deadline := time.Now().Add(30 * time.Second); exported < 3*riders && time.Now().Before(deadline); {
		n, err := p.main.Exporter.Once(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if exported += n; n == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if exported != 2*riders+riders {
		t.Fatalf("exported %d rows, want %d taps and %d journeys", exported, 2*riders, riders)
	}
	time.Sleep(lagCacheFor) // the lag is read again after this
	if lag := p.scrape().value(t, "vnpass_settlement_lag_seconds{}"); lag != 0 {
		t.Errorf("settlement lag %g after everything was exported, want 0", lag)
	}

	// Reconciliation: the day reconciles, then a tap recorded as opening a
	// gate with no journey is one difference.
	today := time.Now()
	if n, err := p.main.reconcileDay(ctx, today); err != nil || n != 0 {
		t.Fatalf("reconcile: %d differences, %v", n, err)
	}
	day := today.In(time.FixedZone("ICT", 7*3600)).Format(time.DateOnly)
	series := fmt.Sprintf(`vnpass_reconcile_differences{day=%q}`, day)
	e = p.scrape()
	if v := e.value(t, series); v != 0 {
		t.Errorf("%s = %g, want 0", series, v)
	}
	if at := e.value(t, "vnpass_reconcile_last_run_timestamp_seconds{}"); math.Abs(at-float64(time.Now().Unix())) > 60 {
		t.Errorf("last run at %g", at)
	}
	if _, err := p.main.Store.Pool().Exec(ctx, `INSERT INTO taps (event_id, device, site, kind, subject, captured_at, received_at, open, reason, decision)
		VALUES ($1, 'hn2a-lang-in01', 'hn2a-lang', 'metro_entry', 'vn_nobody', now(), now(), true, 'ok', '\x00')`,
		proto.NewEventID(time.Now())); err != nil {
		t.Fatal(err)
	}
	if n, err := p.main.reconcileDay(ctx, today); err != nil || n != 1 {
		t.Fatalf("reconcile after a tap without a journey: %d differences, %v", n, err)
	}
	if v := p.scrape().value(t, series); v != 1 {
		t.Errorf("%s = %g, want 1", series, v)
	}
}
