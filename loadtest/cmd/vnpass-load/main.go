// Command vnpass-load measures the platform at a sustained tap rate on this
// machine: it makes a fresh database (PostgreSQL and ClickHouse) and topic
// root, enrolls riders with an in-process VNeID provider, funds their
// accounts, starts the fare service (bin/vnpass-fare) as its own process,
// measures the bare MQTT round trip through the same broker (the ceiling),
// then sends taps at -rate for -for through gates at every station of Hanoi
// Lines 2A and 3 and HCMC Line 1, and reports taps per second sustained,
// decision latency at the gate, decisions by reason, the platform's rate as
// a share of the ceiling, how long ClickHouse took to hold every tap, and
// the books: every tap recorded once, the ledger balanced, ClickHouse =
// PostgreSQL. deploy/local/load.sh runs it with the servers' settings.
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
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/loadtest/sustain"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/ridershipch"
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
	rate := fs.Int("rate", 2000, "taps per second to send")
	dur := fs.Duration("for", 60*time.Second, "how long to send")
	riders := fs.Int("riders", 0, "riders (default: enough for about one journey each, at least 4 s between a rider's taps)")
	gatesPer := fs.Int("gates", 2, "entry and exit gates per station")
	ceilingFor := fs.Duration("ceiling", 10*time.Second, "how long to measure the bare MQTT round trip (0: skip)")
	bin := fs.String("fare-bin", "bin/vnpass-fare", "the fare service binary")
	workers := fs.Int("workers", 64, "the fare service's tap workers (VNPASS_WORKERS)")
	keep := fs.Bool("keep", false, "keep the run's databases")
	drill := fs.String("drill", "", "a fault halfway through the run: kill-fare (SIGKILL the fare service, start it again), restart-pg, restart-mqtt, stop-ch (ClickHouse down for -outage)")
	outage := fs.Duration("outage", 10*time.Second, "how long the drill's fault lasts (stop-ch)")
	breakIDs := fs.Bool("break-idempotency", false, "gates re-send unanswered taps under NEW event ids (a faulty gate): the books check must fail; for testing the check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, k := range []string{"VNPASS_PG_URL", "VNPASS_MQTT_URL", "VNPASS_MQTT_GATE_USER", "VNPASS_MQTT_SERVICE_USER", "VNPASS_CH_ADDR"} {
		if getenv(k) == "" {
			return fmt.Errorf("%s is not set (deploy/local/load.sh sets it)", k)
		}
	}
	n := *riders
	if n == 0 {
		n = max(4**rate, int(float64(*rate)*dur.Seconds()/2))
	}
	tag := time.Now().UTC().Format("20060102_150405")
	db := "load_" + tag
	root := "vnpass/t/load" + tag + "/v1"

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
	// the fare service fetches over HTTP as it would from VNeID.
	idp, err := vneidsim.New(vneidsim.Config{Issuer: "https://vneid-load.local", ClientKey: randHex(16)})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go idp.Serve(ln)
	defer idp.Close()
	fmt.Fprintf(out, "vnpass load: %d riders, %d taps/s for %s, %d entry and %d exit gates per station\n", n, *rate, *dur, *gatesPer, *gatesPer)

	set, err := fare.Shipped()
	if err != nil {
		return err
	}
	byNetwork := map[string][]string{}
	for _, s := range set.Stops() {
		byNetwork[s.NetworkID] = append(byNetwork[s.NetworkID], s.ID)
	}
	var networks []string
	for k := range byNetwork {
		networks = append(networks, k)
	}
	sort.Strings(networks)
	t0 := time.Now()
	store, err := settlepg.Open(ctx, pgURL, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	rs := make([]sustain.Rider, n)
	subjects := make([]string, n)
	for i := 0; i < n; i++ {
		age := 25 + i%30
		e, _, err := idp.Enroll(ctx, vneidsim.Enrollment{CCCD: fmt.Sprintf("0011%02d%06d", 90+i%9, i%1_000_000),
			FullName: "Nguyễn Văn Tải", DateOfBirth: fmt.Sprintf("%d-01-15", time.Now().Year()-age)})
		if err != nil {
			return fmt.Errorf("enroll: %w", err)
		}
		stations := byNetwork[networks[i%len(networks)]]
		a := stations[(i*7)%len(stations)]
		b := stations[(i*7+1+i%(len(stations)-1))%len(stations)]
		if a == b {
			b = stations[(i*7+1)%len(stations)]
		}
		gi := i % *gatesPer
		rs[i] = sustain.Rider{FaceRef: e.FaceRef,
			From: sustain.Gate{Site: a, Device: fmt.Sprintf("%s-in%02d", a, gi+1), Kind: proto.KindMetroEntry},
			To:   sustain.Gate{Site: b, Device: fmt.Sprintf("%s-out%02d", b, gi+1), Kind: proto.KindMetroExit}}
		subjects[i] = e.Subject
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
	fareEnv := append(os.Environ(),
		"VNPASS_PG_URL="+pgURL, "VNPASS_MQTT_ROOT="+root, "VNPASS_CH_DATABASE="+db,
		"VNPASS_VNEID_ISSUER=https://vneid-load.local", "VNPASS_VNEID_JWKS_URL=http://"+ln.Addr().String()+"/.well-known/jwks.json",
		"VNPASS_API_ADDR="+apiAddr, "VNPASS_API_SECRET="+randHex(32), "VNPASS_PSEUDONYM_KEY="+randHex(32),
		"VNPASS_MIN_TAP_INTERVAL=1s", "VNPASS_WORKERS="+fmt.Sprint(*workers), "VNPASS_INSTANCE=load-"+tag,
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

	cfg := sustain.Config{
		BrokerURL: getenv("VNPASS_MQTT_URL"), User: getenv("VNPASS_MQTT_GATE_USER"), Password: getenv("VNPASS_MQTT_GATE_PASSWORD"),
		Topics: proto.Topics{Root: root}, Rate: *rate, For: *dur, Riders: rs, Matcher: idp,
		Resend: 2 * time.Second, Wait: 30 * time.Second, ResendNewID: *breakIDs,
	}
	var drillLog []string
	note := func(format string, a ...any) {
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
	switch *drill {
	case "":
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
	default:
		return fmt.Errorf("-drill %q: want kill-fare, restart-pg, restart-mqtt or stop-ch", *drill)
	}
	cfg.AtShare = 0.5
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
	<-drillDone // the fault is over (ClickHouse back) before the books are read
	end := time.Now()
	fmt.Fprintf(out, "\n── Tổng kết / Summary ─────────────────────────────\n")
	fmt.Fprintf(out, "taps sent %d over %s (%d behind schedule by more than 50 ms), decided %d, lost %d\n",
		rep.Sent, rep.SendFor.Round(time.Millisecond), rep.Late, rep.Decided, rep.Lost)
	fmt.Fprintf(out, "sustained: %.0f decisions/s", rep.Rate())
	if ceiling > 0 {
		fmt.Fprintf(out, " = %.1f%% of the bare MQTT round trip", 100*rep.Rate()/ceiling)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "decision latency at the gate (publish -> decision): p50 %s  p95 %s  p99 %s  max %s\n",
		rep.Percentile(50).Round(10*time.Microsecond), rep.Percentile(95).Round(10*time.Microsecond),
		rep.Percentile(99).Round(10*time.Microsecond), rep.Percentile(100).Round(10*time.Microsecond))
	var reasons []string
	for r, c := range rep.Reasons {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, c))
	}
	sort.Strings(reasons)
	fmt.Fprintf(out, "decisions by reason: %s\n", strings.Join(reasons, ", "))
	fmt.Fprintf(out, "taps re-sent by the gates for want of a decision: %d; longest stretch with no decision: %s\n", rep.Resent, rep.MaxGap.Round(time.Millisecond))
	for _, l := range drillLog {
		fmt.Fprintf(out, "drill: %s\n", l)
	}

	// The books: every tap once, the ledger balanced, ClickHouse = PostgreSQL.
	var taps, distinct int64
	if err := store.Pool().QueryRow(ctx, "SELECT count(*), count(DISTINCT event_id) FROM taps").Scan(&taps, &distinct); err != nil {
		return err
	}
	books, err := store.Books(ctx)
	if err != nil {
		return err
	}
	// Every tap a gate made is recorded under its event id, and no
	// journey was charged twice.
	var missing, doubled int64
	if err := store.Pool().QueryRow(ctx, `SELECT count(*) FROM unnest($1::text[]::uuid[]) AS u(id)
		WHERE NOT EXISTS (SELECT 1 FROM taps t WHERE t.event_id = u.id)`, rep.SentIDs).Scan(&missing); err != nil {
		return err
	}
	if err := store.Pool().QueryRow(ctx, `SELECT count(*) FROM (SELECT journey_id FROM ledger_transactions
		WHERE kind = 'fare' AND journey_id IS NOT NULL GROUP BY journey_id HAVING count(*) > 1) x`).Scan(&doubled); err != nil {
		return err
	}
	sink, err := ridershipch.Open(ctx, ridershipch.Config{Addr: getenv("VNPASS_CH_ADDR"), User: getenv("VNPASS_CH_USER"),
		Password: getenv("VNPASS_CH_PASSWORD"), Database: db})
	if err != nil {
		return err
	}
	defer sink.Close()
	if !*keep {
		defer sink.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
	}
	var lag time.Duration
	for {
		c, err := sink.Count(ctx)
		if err == nil && int64(c.Taps) >= taps {
			lag = time.Since(end)
			break
		}
		if time.Since(end) > 2*time.Minute {
			return fmt.Errorf("ClickHouse holds %d of %d taps after 2 minutes", c.Taps, taps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(out, "every tap the gates made recorded: %v (%d missing); journeys charged twice: %d\n", missing == 0, missing, doubled)
	fmt.Fprintf(out, "books: %d taps recorded (%d distinct), ledger %d transactions, debits %s = credits %s: %v; ClickHouse held every tap %s after the last decision\n",
		taps, distinct, books.Transactions, money.Format(books.Debits), money.Format(books.Credits), books.Balanced(), lag.Round(10*time.Millisecond))
	var errs []string
	if rep.Lost > 0 {
		errs = append(errs, fmt.Sprintf("%d taps got no decision", rep.Lost))
	}
	if taps != int64(rep.Sent) || distinct != taps || missing > 0 {
		errs = append(errs, fmt.Sprintf("%d taps recorded (%d distinct) for %d sent, %d of the gates' event ids not recorded", taps, distinct, rep.Sent, missing))
	}
	if doubled > 0 {
		errs = append(errs, fmt.Sprintf("%d journeys charged twice", doubled))
	}
	if !books.Balanced() {
		errs = append(errs, "ledger out of balance")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
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
