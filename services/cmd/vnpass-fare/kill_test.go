package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/settlepg"
	"github.com/vnpass/vnpass/services/vneidsim"
)

// TestMain lets the test binary run as the fare service itself
// (VNPASS_FARE_CHILD=1), so that a test can kill a real service process.
func TestMain(m *testing.M) {
	if os.Getenv("VNPASS_FARE_CHILD") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if err := run(ctx, log); err != nil {
			log.Error("vnpass-fare stopped", "err", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// configEnv is the environment that makes ConfigFromEnv return c.
func configEnv(c Config) []string {
	return []string{
		"VNPASS_PG_URL=" + c.PostgresURL, "VNPASS_MQTT_URL=" + c.MQTTURL,
		"VNPASS_MQTT_SERVICE_USER=" + c.MQTTUser, "VNPASS_MQTT_SERVICE_PASSWORD=" + c.MQTTPassword,
		"VNPASS_MQTT_ROOT=" + c.Topics.Root, "VNPASS_INSTANCE=" + c.Instance,
		"VNPASS_CH_ADDR=" + c.CHAddr, "VNPASS_CH_USER=" + c.CHUser, "VNPASS_CH_PASSWORD=" + c.CHPassword,
		"VNPASS_CH_DATABASE=" + c.CHDatabase, "VNPASS_VNEID_ISSUER=" + c.VNeIDIssuer,
		"VNPASS_VNEID_JWKS_URL=" + c.VNeIDJWKSURL, "VNPASS_API_ADDR=" + c.APIAddr,
		"VNPASS_API_SECRET=" + c.APISecret, "VNPASS_PSEUDONYM_KEY=" + c.PseudonymKey,
		"VNPASS_DECISION_TIMEOUT=" + c.DecisionTimeout.String(),
		"VNPASS_MIN_TAP_INTERVAL=" + c.MinTapInterval.String(),
		"VNPASS_PAY_URL=" + c.PayURL, "VNPASS_PAY_CLIENT_KEY=" + c.PayClientKey, "VNPASS_PAY_PROVIDER=" + c.PayProvider,
	}
}

// startService runs the fare service as a child process and waits until it
// answers on its API.
func startService(t *testing.T, c Config) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VNPASS_FARE_CHILD=1")
	cmd.Env = append(cmd.Env, configEnv(c)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, 20*time.Second, "the fare service to start", func() (bool, string) {
		resp, err := http.Get("http://" + c.APIAddr + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return cmd
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestKilledMidSettlementLosesNothing: the fare service is killed with
// SIGKILL while gates are sending a stream of taps, and started again. The
// gates do what gate agents do: a tap with no decision is sent again, with
// the same event id, until one comes. In the end every tap has exactly one
// record, every journey was charged exactly once (each balance is the
// top-up minus the fare of the rider's one journey) and the ledger balances.
func TestKilledMidSettlementLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills service processes")
	}
	ctx := context.Background()
	p := preparePlatform(t)
	cfg := p.cfg
	cfg.APIAddr = freeAddr(t)
	cfg.DecisionTimeout = 30 * time.Second // gates wait out the restart
	store, err := settlepg.Open(ctx, cfg.PostgresURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	const n = 120
	stations := p.line2A()
	type rider struct {
		subject, face string
		from, to      string
	}
	riders := make([]rider, n)
	for i := range riders {
		e, _, err := p.idp.Enroll(ctx, vneidsim.Enrollment{CCCD: fmt.Sprintf("001190%06d", i), FullName: "Phạm Thu Hà", DateOfBirth: "1991-05-05"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.OpenRiderAccount(ctx, e.Subject); err != nil {
			t.Fatal(err)
		}
		tx, _ := ledger.Transfer("topup:kill:"+e.Subject, "topup", "", ledger.ProviderSettlement("sim"), ledger.Rider(e.Subject), money.Dong(50_000))
		if err := store.Post(ctx, tx); err != nil {
			t.Fatal(err)
		}
		riders[i] = rider{e.Subject, e.FaceRef, stations[i%12], stations[(i*5+3)%12]}
		if riders[i].to == riders[i].from {
			riders[i].to = stations[(i+1)%12]
		}
	}

	svc := startService(t, cfg)
	// One gate per station and direction; each sends its taps one after
	// another, re-sending a tap with no decision after 2 s.
	gates := make(map[string]*gate)
	var mu sync.Mutex
	gateFor := func(site string, kind proto.Kind) *gate {
		mu.Lock()
		defer mu.Unlock()
		dev := site + "-" + string(kind[6:8]) + "01"
		if g := gates[dev]; g != nil {
			return g
		}
		g := p.rawGate(site, dev)
		gates[dev] = g
		return g
	}
	var decided, resent sync.Map
	var decidedN, resentN int64
	var countMu sync.Mutex
	send := func(g *gate, kind proto.Kind, face string) {
		tp, b := g.tap(kind, p.assertion(face, g.dev))
		g.publish(b)
		for {
			select {
			case d := <-g.decisions:
				if d.EventID != tp.EventID {
					// A late answer to an earlier tap of this gate.
					continue
				}
				if !d.Open {
					t.Errorf("tap %s refused: %s", d.EventID, d.Reason)
				}
				if _, dup := decided.LoadOrStore(d.EventID, true); !dup {
					countMu.Lock()
					decidedN++
					countMu.Unlock()
				}
				return
			case <-time.After(2 * time.Second):
				resent.Store(tp.EventID, true)
				countMu.Lock()
				resentN++
				countMu.Unlock()
				g.publish(b)
			}
		}
	}
	phase := func(kind proto.Kind) {
		// Taps of one gate go one after another (a gate serves one rider
		// at a time); gates run in parallel.
		byGate := make(map[*gate][]string)
		for _, r := range riders {
			site := r.from
			if kind == proto.KindMetroExit {
				site = r.to
			}
			g := gateFor(site, kind)
			byGate[g] = append(byGate[g], r.face)
		}
		var wg sync.WaitGroup
		for g, faces := range byGate {
			wg.Add(1)
			go func(g *gate, faces []string) {
				defer wg.Done()
				for _, f := range faces {
					send(g, kind, f)
				}
			}(g, faces)
		}
		wg.Wait()
	}
	killed := make(chan struct{})
	go func() {
		// Kill the service once a third of the taps are decided.
		defer close(killed)
		for {
			countMu.Lock()
			d := decidedN
			countMu.Unlock()
			if d >= 2*n/3 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		svc.Process.Signal(syscall.SIGKILL)
		svc.Wait()
		startService(t, cfg)
	}()
	phase(proto.KindMetroEntry)
	phase(proto.KindMetroExit)
	<-killed
	t.Logf("%d taps decided; %d re-sent by gates across the kill", decidedN, resentN)
	if resentN == 0 {
		t.Error("no tap was re-sent: the kill did not happen mid-stream")
	}
	for _, r := range riders {
		q, err := p.fares.Price(r.from, r.to)
		if err != nil {
			t.Fatal(err)
		}
		a, err := store.Account(ctx, ledger.Rider(r.subject))
		if err != nil {
			t.Fatal(err)
		}
		if want := money.Dong(50_000).Sub(q.Amount); !a.Balance.Equal(want) {
			t.Errorf("%s %s -> %s: balance %s, want %s", r.subject, r.from, r.to, money.Format(a.Balance), money.Format(want))
		}
	}
	var taps, journeys int
	store.Pool().QueryRow(ctx, "SELECT count(*) FROM taps").Scan(&taps)
	store.Pool().QueryRow(ctx, "SELECT count(*) FROM journeys WHERE status = 'closed'").Scan(&journeys)
	if taps != 2*n || journeys != n {
		t.Errorf("%d taps and %d closed journeys recorded, want %d and %d", taps, journeys, 2*n, n)
	}
	if b, err := store.Books(ctx); err != nil || !b.Balanced() {
		t.Errorf("books: %+v %v", b, err)
	}
}
