// Command vnpass-load measures the platform at a sustained tap rate on this
// machine: it makes a fresh database (PostgreSQL and ClickHouse) and topic
// root, lays out the run's taps (a flat rate or a morning-rush curve) and
// the riders who make them: metro journeys on Hanoi Lines 2A and 3 and HCMC
// Line 1, transfers between Lines 2A and 3 at Cát Linh, parking stays at
// the lots open now (entry and exit with a plate) around a journey, passes
// at Hanoi Station's gates on tickets a partner binds through the partner
// API, and riders who ride free by a VNeID attribute. It enrolls them with
// an in-process VNeID provider, funds their accounts, starts the fare
// service (bin/vnpass-fare) as its own process, mints the assertions ahead
// (VNeID signs on its own servers, not on the platform's cores), measures
// the bare MQTT round trip through the same broker (the ceiling), sends the
// taps, and reports taps per second sustained, decision latency at the gate
// over the run and its peak window, decisions by reason per kind of device,
// the platform's rate as a share of the ceiling, how long ClickHouse took
// to hold everything, and the books: every tap recorded once, nothing
// charged twice, the ledger balanced, ClickHouse = PostgreSQL = the ledger.
// Fault drills run during the load (-drill); gate-offline puts real gate
// agents at the busiest gates and cuts their network.
// deploy/local/load.sh runs it with the servers' settings.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/loadtest/sustain"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/rail"
	"github.com/vnpass/vnpass/services/settlepg"
	"github.com/vnpass/vnpass/services/vneidsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vnpass-load:", err)
		os.Exit(1)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("vnpass-load", flag.ContinueOnError)
	rate := fs.Int("rate", 2000, "taps per second to send (with -curve peak: the peak rate)")
	dur := fs.Duration("for", 60*time.Second, "how long to send")
	curveFlag := fs.String("curve", "flat", "the arrival curve: flat, or peak (a morning rush: 30 % of -rate rising to -rate over the first third, held, easing to half over the last)")
	premint := fs.Bool("premint", true, "mint the gates' VNeID assertions before the timed window (VNeID signs on its own servers); false: each tap's assertion is minted on the load generator as it is sent")
	mintLeadFlag := fs.Duration("mint-lead", 3*time.Minute, "with -premint: taps due within this of the start are minted before it, later ones this far ahead of their tap by a background minter (the provider's assertion lifetime is set to this + 2m, at most 10m)")
	gap := fs.Duration("gap", 4*time.Second, "least time between two taps of one rider")
	gatesPer := fs.Int("gates", 4, "entry and exit gates per station (and barriers per parking lot)")
	park := fs.Float64("park", 0.05, "share of riders who park a motorbike (one in five: a car) at a lot open now, around their metro journey")
	transfer := fs.Float64("transfer", 0.05, "share of riders changing between Hanoi Lines 2A and 3 at Cát Linh (four taps)")
	railShare := fs.Float64("rail", 0.02, "share of riders boarding a train at Hanoi Station on a ticket bound through the partner API")
	railMax := fs.Int("rail-max", 2000, "most train tickets bound for a run (two partner API calls each, before the run)")
	conc := fs.Float64("concession", 0.15, "share of riders who ride free by a VNeID attribute: children under 6, seniors, disabled, meritorious, in turn")
	ceilingFor := fs.Duration("ceiling", 10*time.Second, "how long to measure the bare MQTT round trip (0: skip)")
	bin := fs.String("fare-bin", "bin/vnpass-fare", "the fare service binary")
	workers := fs.Int("workers", 64, "the fare service's tap workers (VNPASS_WORKERS)")
	keep := fs.Bool("keep", false, "keep the run's databases")
	drill := fs.String("drill", "", "a fault during the run: kill-fare (SIGKILL the fare service halfway, start it again), restart-pg, restart-mqtt, stop-ch (ClickHouse down for -outage), gate-offline (the busiest entry and exit gates are real gate agents whose network is cut for -outage)")
	outage := fs.Duration("outage", 10*time.Second, "how long the drill's fault lasts (stop-ch, gate-offline); the fault is placed mid-run")
	breakIDs := fs.Bool("break-idempotency", false, "gates re-send unanswered taps under NEW event ids (a faulty gate): the books check must fail; for testing the check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	curve, err := sustain.ParseCurve(*curveFlag)
	if err != nil {
		return err
	}
	for _, k := range []string{"VNPASS_PG_URL", "VNPASS_MQTT_URL", "VNPASS_MQTT_GATE_USER", "VNPASS_MQTT_SERVICE_USER", "VNPASS_CH_ADDR"} {
		if getenv(k) == "" {
			return fmt.Errorf("%s is not set (deploy/local/load.sh sets it)", k)
		}
	}
	switch *drill {
	case "", "kill-fare", "restart-pg", "restart-mqtt", "stop-ch", "gate-offline":
	default:
		return fmt.Errorf("-drill %q: want kill-fare, restart-pg, restart-mqtt, stop-ch or gate-offline", *drill)
	}
	if (*drill == "stop-ch" || *drill == "gate-offline") && *outage >= *dur {
		return fmt.Errorf("-outage %s must fit in the run (-for %s): the fault is placed mid-run", *outage, *dur)
	}
	tag := time.Now().UTC().Format("20060102_150405")
	db := "load_" + tag
	root := "vnpass/t/load" + tag + "/v1"

	// The schedule and the mix of riders, decided before anything starts.
	set, err := fare.Shipped()
	if err != nil {
		return err
	}
	lots, err := parking.Shipped()
	if err != nil {
		return err
	}
	rn, err := rail.Shipped()
	if err != nil {
		return err
	}
	mx, err := newMix(set, lots, rn, *gatesPer, *park, *transfer, *railShare, *conc, *railMax, time.Now())
	if err != nil {
		return err
	}
	sched, err := sustain.NewSchedule(*rate, *dur, curve, *gap, func(i int) int { return mx.kind(i).steps() })
	if err != nil {
		return err
	}
	n := sched.Riders
	fmt.Fprintf(out, "vnpass load: %d taps/s (%s) for %s, %d taps by %d riders, %d entry and %d exit gates per station\n",
		*rate, curve, *dur, len(sched.Due), n, *gatesPer, *gatesPer)
	fmt.Fprintf(out, "riders: %s\n", mx.summary(n))
	// The fare service paces each device (VNPASS_TAP_RATE, default 20 taps/s,
	// as a turnstile passes a rider a second or two): a schedule that asks
	// more of one gate measures the pacing, not the platform.
	busy, busyRate := busiestSecond(sched, func(sl sustain.Slot) string { return mx.steps(int(sl.Rider))[sl.Step].Gate.Device })
	fmt.Fprintf(out, "busiest gate: %s, %d taps in its busiest second", busy, busyRate)
	if limit := getenv("VNPASS_TAP_RATE"); limit != "off" && busyRate > 20 {
		fmt.Fprintf(out, " (over the fare service's per-device pacing, VNPASS_TAP_RATE %q, default 20/s: add gates with -gates, or VNPASS_TAP_RATE=off)", limit)
	}
	fmt.Fprintln(out)

	// A fresh PostgreSQL database and ClickHouse database for the run.
	base := getenv("VNPASS_PG_URL")
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		conn.Close(ctx)
		return err
	}
	conn.Close(ctx)
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	u.Path = "/" + db
	pgURL := u.String()
	defer func() {
		if *keep {
			fmt.Fprintf(out, "kept PostgreSQL database %s and ClickHouse database %s\n", db, db)
			return
		}
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
			c.Close(context.Background())
		}
	}()

	// The riders, enrolled with an in-process VNeID provider whose keys
	// the fare service fetches over HTTP as it would from VNeID. Minted
	// ahead, an assertion must live until its tap: at most MintLead
	// ahead, plus the time minting takes.
	mintLead := min(*mintLeadFlag, *dur+5*time.Second)
	if *premint && (mintLead <= 0 || mintLead+2*time.Minute > vneidsim.MaxTTL) {
		return fmt.Errorf("-mint-lead %s: want more than 0 and at most %s (an assertion lives at most %s)", *mintLeadFlag, vneidsim.MaxTTL-2*time.Minute, vneidsim.MaxTTL)
	}
	ttl := vneidsim.DefaultTTL
	if *premint {
		ttl = min(vneidsim.MaxTTL, max(ttl, mintLead+2*time.Minute))
	}
	const issuer = "https://vneid-load.local"
	idp, err := vneidsim.New(vneidsim.Config{Issuer: issuer, ClientKey: randHex(16), TTL: ttl})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go idp.Serve(ln)
	defer idp.Close()
	jwksURL := "http://" + ln.Addr().String() + "/.well-known/jwks.json"

	t0 := time.Now()
	store, err := settlepg.Open(ctx, pgURL, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	rs := make([]sustain.Rider, n)
	subjects := make([]string, n)
	if err := parallel(n, 4, func(i int) error {
		e, _, err := idp.Enroll(ctx, mx.enrollment(i))
		if err != nil {
			return fmt.Errorf("enroll: %w", err)
		}
		rs[i] = sustain.Rider{FaceRef: e.FaceRef, Steps: mx.steps(i)}
		subjects[i] = e.Subject
		return nil
	}); err != nil {
		return err
	}
	if err := store.OpenRiderAccounts(ctx, subjects); err != nil {
		return err
	}
	for lo := 0; lo < n; lo += 5000 {
		var txs []ledger.Transaction
		for _, sub := range subjects[lo:min(lo+5000, n)] {
			t, _ := ledger.Transfer("load-topup:"+sub, "topup", "", ledger.ProviderSettlement("sim"), ledger.Rider(sub), money.Dong(1_000_000))
			txs = append(txs, t)
		}
		if err := store.PostBatch(ctx, txs); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "riders enrolled and funded in %s\n", time.Since(t0).Round(time.Millisecond))

	// The fare service, as its own process.
	apiAddr, err := freeAddr()
	if err != nil {
		return err
	}
	apiSecret := randHex(32)
	fareEnv := append(os.Environ(),
		"VNPASS_PG_URL="+pgURL, "VNPASS_MQTT_ROOT="+root, "VNPASS_CH_DATABASE="+db,
		"VNPASS_VNEID_ISSUER="+issuer, "VNPASS_VNEID_JWKS_URL="+jwksURL,
		"VNPASS_API_ADDR="+apiAddr, "VNPASS_API_SECRET="+apiSecret, "VNPASS_PSEUDONYM_KEY="+randHex(32),
		"VNPASS_MIN_TAP_INTERVAL=1s", "VNPASS_WORKERS="+fmt.Sprint(*workers), "VNPASS_INSTANCE=load-"+tag,
		"VNPASS_PARKING_DATA=", "VNPASS_RAIL_DATA=", "VNPASS_FARE_DATA=",
		"VNPASS_PAY_URL=", "VNPASS_PAY_CLIENT_KEY=", "VNPASS_PPROF_ADDR="+getenv("VNPASS_LOAD_PPROF"))
	logf, err := os.CreateTemp("", "vnpass-load-fare-*.log")
	if err != nil {
		return err
	}
	defer logf.Close()
	var cmd *exec.Cmd
	startFare := func() error {
		cmd = exec.CommandContext(ctx, *bin)
		cmd.Env = fareEnv
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", *bin, err)
		}
		if err := waitHTTP(ctx, "http://"+apiAddr+"/healthz", 30*time.Second); err != nil {
			return fmt.Errorf("fare service did not start (log %s): %w", logf.Name(), err)
		}
		return nil
	}
	if err := startFare(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	fmt.Fprintf(out, "fare service up (log %s)\n", logf.Name())

	// Rail riders' tickets, bound by a ticketing partner through the
	// partner API, for trains leaving within the boarding window of the
	// whole run (60 minutes before departure to 5 after).
	if rails := mx.Counts[tripRail]; rails > 0 {
		t0 := time.Now()
		tk, err := newTicketing(ctx, "http://"+apiAddr, apiSecret)
		if err != nil {
			return err
		}
		defer tk.Close()
		dep := time.Now().Add(max(45*time.Minute, *dur+10*time.Minute)).Truncate(time.Second)
		if time.Until(dep) > 60*time.Minute {
			return fmt.Errorf("-rail: a run of %s is longer than a ticket's boarding window (an hour); use -rail 0", *dur)
		}
		var railRiders []int
		for i := 0; i < n; i++ {
			if mx.kind(i) == tripRail {
				railRiders = append(railRiders, i)
			}
		}
		if err := parallel(len(railRiders), 8, func(j int) error {
			i := railRiders[j]
			return tk.bind(ctx, subjects[i], fmt.Sprintf("LOAD-%s-%d", tag, i), dep, i)
		}); err != nil {
			return err
		}
		fmt.Fprintf(out, "%d train tickets bound through the partner API in %s\n", len(railRiders), time.Since(t0).Round(time.Millisecond))
	}

	cfg := sustain.Config{
		BrokerURL: getenv("VNPASS_MQTT_URL"), User: getenv("VNPASS_MQTT_GATE_USER"), Password: getenv("VNPASS_MQTT_GATE_PASSWORD"),
		Topics: proto.Topics{Root: root}, Schedule: sched, Riders: rs, For: *dur, Curve: curve, Matcher: idp,
		Premint: *premint, MintLead: mintLead,
		Resend: 2 * time.Second, Wait: 30 * time.Second, ResendNewID: *breakIDs,
	}
	var drillLog []string
	var drillMu sync.Mutex
	note := func(format string, a ...any) {
		drillMu.Lock()
		defer drillMu.Unlock()
		drillLog = append(drillLog, time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, a...))
	}
	stack := func(args ...string) error {
		c := exec.CommandContext(ctx, "deploy/local/stack.sh", args...)
		b, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("stack.sh %v: %v: %s", args, err, b)
		}
		return nil
	}
	// A fault with a length is placed mid-run: as much load before it as
	// after.
	cfg.AtShare = 0.5
	if *drill == "stop-ch" || *drill == "gate-offline" {
		cfg.AtShare = max(0.1, (*dur-*outage).Seconds()/2/dur.Seconds())
	}
	var og *offlineGates
	var outageFrom, outageTo time.Time
	var drained time.Duration
	switch *drill {
	case "kill-fare":
		cfg.At = func() {
			note("SIGKILL the fare service")
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			if err := startFare(); err != nil {
				note("restart failed: %v", err)
				return
			}
			note("fare service answering again")
		}
	case "restart-pg", "restart-mqtt":
		server := strings.TrimPrefix(*drill, "restart-")
		cfg.At = func() {
			note("stopping %s", server)
			if err := stack("down", server); err != nil {
				note("%v", err)
			}
			if err := stack("up", server); err != nil {
				note("%v", err)
			}
			note("%s up again", server)
		}
	case "stop-ch":
		cfg.At = func() {
			note("stopping ClickHouse for %s", *outage)
			if err := stack("down", "ch"); err != nil {
				note("%v", err)
			}
			time.Sleep(*outage)
			if err := stack("up", "ch"); err != nil {
				note("%v", err)
			}
			note("ClickHouse up again")
		}
	case "gate-offline":
		gates := busiest(sched, rs)
		og, err = startOfflineGates(ctx, gates, getenv("VNPASS_MQTT_URL"), getenv("VNPASS_MQTT_GATE_USER"), getenv("VNPASS_MQTT_GATE_PASSWORD"),
			getenv("VNPASS_MQTT_SERVICE_USER"), getenv("VNPASS_MQTT_SERVICE_PASSWORD"), proto.Topics{Root: root}, idp, jwksURL, issuer)
		if err != nil {
			return err
		}
		defer og.Close()
		cfg.Agents = og.byDevice()
		fmt.Fprintf(out, "gate-offline: real gate agents (queue on disk, offline decisions) at %s, behind a link the drill cuts\n", strings.Join(og.devices(), ", "))
		cfg.At = func() {
			note("cutting the network of %s for %s", strings.Join(og.devices(), ", "), *outage)
			outageFrom = time.Now()
			og.link.Cut()
			time.Sleep(*outage)
			og.link.Restore()
			outageTo = time.Now()
			note("network back; %d taps queued at the gates", og.queued())
			for og.queued() > 0 || og.connected() < len(og.agents) {
				// The fare service paces each device (VNPASS_TAP_RATE):
				// a busy gate's queue drains at that rate less its new taps.
				if limit := max(5*time.Minute, 3**outage); time.Since(outageTo) > limit {
					note("queues not drained %s after: %d taps left", limit, og.queued())
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			drained = time.Since(outageTo)
			note("queues drained %s after the network came back", drained.Round(time.Millisecond))
		}
	}
	drillDone := make(chan struct{})
	if at := cfg.At; at != nil {
		cfg.At = func() { defer close(drillDone); at() }
	} else {
		close(drillDone)
	}
	var ceiling float64
	if *ceilingFor > 0 {
		cc := cfg
		cc.User, cc.Password = getenv("VNPASS_MQTT_SERVICE_USER"), getenv("VNPASS_MQTT_SERVICE_PASSWORD")
		var p99 time.Duration
		ceiling, p99, err = sustain.Ceiling(ctx, cc, 64, 600, *ceilingFor)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "ceiling: bare MQTT request/response through the broker, 600-byte messages, 64 clients: %.0f round trips/s, p99 %s\n",
			ceiling, p99.Round(10*time.Microsecond))
	}

	rep, err := sustain.Run(ctx, cfg)
	if err != nil {
		return err
	}
	<-drillDone // the fault is over (ClickHouse back, gates drained) before the books are read
	end := time.Now()
	fmt.Fprintf(out, "\n── Tổng kết / Summary ─────────────────────────────\n")
	if *premint {
		fmt.Fprintf(out, "assertions minted before the start: %d in %s (%.0f/s)", rep.MintedBefore, rep.MintTook.Round(time.Millisecond),
			float64(rep.MintedBefore)/max(rep.MintTook.Seconds(), 1e-3))
		if rep.MintedAhead > 0 || rep.MintedInline > 0 {
			fmt.Fprintf(out, "; during the run, %s ahead of their taps by a background minter: %d; minted by a worker at its tap: %d", mintLead, rep.MintedAhead, rep.MintedInline)
		}
		fmt.Fprintln(out)
	} else {
		fmt.Fprintf(out, "assertions minted on the load generator as each tap was sent (-premint=false)\n")
	}
	fmt.Fprintf(out, "taps sent %d over %s (%d behind schedule by more than 50 ms), decided %d, lost %d\n",
		rep.Sent, rep.SendFor.Round(time.Millisecond), rep.Late, rep.Decided, rep.Lost)
	fmt.Fprintf(out, "sustained: %.0f decisions/s", rep.Rate())
	if ceiling > 0 {
		fmt.Fprintf(out, " = %.1f%% of the bare MQTT round trip", 100*rep.Rate()/ceiling)
	}
	fmt.Fprintln(out)
	lat := func(p func(float64) time.Duration) string {
		return fmt.Sprintf("p50 %s  p95 %s  p99 %s  max %s", p(50).Round(10*time.Microsecond), p(95).Round(10*time.Microsecond),
			p(99).Round(10*time.Microsecond), p(100).Round(10*time.Microsecond))
	}
	fmt.Fprintf(out, "decision latency at the gate (publish -> decision), whole run: %s\n", lat(rep.Percentile))
	if curve == sustain.Peak {
		fmt.Fprintf(out, "peak window (%s to %s, %d taps due at %d/s): %.0f decisions/s; latency %s\n",
			rep.PeakFrom.Round(time.Second), rep.PeakTo.Round(time.Second), rep.PeakSent, *rate, rep.PeakRate(), lat(rep.PeakPercentile))
	}
	var kinds []string
	for k := range rep.ReasonsByKind {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	var reasons []string
	for r, c := range rep.Reasons {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, c))
	}
	sort.Strings(reasons)
	fmt.Fprintf(out, "decisions by reason: %s\n", strings.Join(reasons, ", "))
	for _, k := range kinds {
		var rr []string
		for r, c := range rep.ReasonsByKind[proto.Kind(k)] {
			rr = append(rr, fmt.Sprintf("%s %d", r, c))
		}
		sort.Strings(rr)
		fmt.Fprintf(out, "  %-13s %s\n", k+":", strings.Join(rr, ", "))
	}
	fmt.Fprintf(out, "taps re-sent by the gates for want of a decision: %d; longest stretch with no decision: %s\n", rep.Resent, rep.MaxGap.Round(time.Millisecond))
	for _, l := range drillLog {
		fmt.Fprintf(out, "drill: %s\n", l)
	}
	var errs []string
	if og != nil {
		during := 0
		for _, at := range rep.AgentOfflineAt {
			if !outageFrom.IsZero() && !at.Before(outageFrom) && (outageTo.IsZero() || at.Before(outageTo)) {
				during++
			}
		}
		fmt.Fprintf(out, "gate-offline: %d taps at the real gates: %d decided by the cloud, %d offline by the gate (%d opened), %d of them during the %s outage; %d failed; queues drained %s after the network came back\n",
			rep.AgentTaps, rep.AgentOnline, rep.AgentOffline, rep.AgentOfflineOpened, during, *outage, rep.AgentErrors, drained.Round(time.Millisecond))
		if during == 0 {
			errs = append(errs, "the gates cut off made no offline decision during the outage")
		}
		if drained == 0 {
			errs = append(errs, "the gates' queues did not drain")
		}
	}

	b, err := checkBooks(ctx, store, rep, og, end, getenv, db, *keep, out)
	if err != nil {
		return err
	}
	errs = append(errs, b...)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// busiestSecond is the device with the most taps due in one second of the
// schedule, and how many.
func busiestSecond(sched *sustain.Schedule, device func(sustain.Slot) string) (string, int) {
	type key struct {
		device string
		second int64
	}
	count := map[key]int{}
	best, most := "", 0
	for i, sl := range sched.Slots {
		k := key{device(sl), int64(sched.Due[i] / time.Second)}
		count[k]++
		if c := count[k]; c > most || c == most && k.device < best {
			best, most = k.device, c
		}
	}
	return best, most
}

func waitHTTP(ctx context.Context, u string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %v", u, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
