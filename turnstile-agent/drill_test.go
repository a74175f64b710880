package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/vneidsim"
	"github.com/vnpass/vnpass/turnstile-agent/queue"
)

// The drill: too long for CI, run by hand, figures in README.md.
//
//	go test ./turnstile-agent -run Drill -drill -v [-drill-taps 100000] [-drill-rate 1000]
var (
	drill       = flag.Bool("drill", false, "run the queue drain drill (minutes)")
	drillTaps   = flag.Int("drill-taps", 100_000, "taps queued on disk for the drill")
	drillRate   = flag.Int("drill-rate", 1000, "drain rate of the agent in the drill, taps per second")
	drillSteady = flag.Duration("drill-steady", 60*time.Second, "how long the drill measures the agent at a realistic tap rate")
)

// TestDrillQueueDrain: a gate that was offline for a long time holds
// 100,000 taps decided offline in its queue on disk. Its agent (the static
// binary, a process of its own) starts, connects and drains them to the fare
// service at its drain rate; every one is recorded exactly once. Then it
// serves riders at a realistic rate. The agent's memory and CPU are sampled
// from /proc throughout.
func TestDrillQueueDrain(t *testing.T) {
	if !*drill {
		t.Skip("a drill of minutes: go test ./turnstile-agent -run Drill -drill -v")
	}
	n := *drillTaps
	c := startCloud(t)
	ctx := context.Background()
	device := testenv.Name("hn2a-cat-linh-in-")
	c.push(catLinh, device, proto.KindMetroEntry)

	// Riders, enrolled and with accounts (unfunded: entries decided offline
	// are honoured whatever the balance).
	const riders = 2000
	faces := make([]string, riders)
	for i := range faces {
		e, _, err := c.idp.Enroll(ctx, vneidsim.Enrollment{CCCD: fmt.Sprintf("001195%06d", i), FullName: "Đỗ Minh Quân", DateOfBirth: "1995-09-09"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.store.OpenRiderAccount(ctx, e.Subject); err != nil {
			t.Fatal(err)
		}
		faces[i] = e.FaceRef
	}

	// The queue as ten hours offline leave it: taps captured in time
	// order, each with its offline decision, appended by many writers
	// (group commit) as the agent would have, one slice of time at a time.
	state := t.TempDir()
	fillStart := time.Now()
	q, err := queue.Open(filepath.Join(state, "queue"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const slices = 100
	from := time.Now().Add(-10 * time.Hour)
	for s := 0; s < slices; s++ {
		at := from.Add(time.Duration(s) * 6 * time.Minute)
		c.idpNow.Store(at.UnixNano())
		var wg sync.WaitGroup
		var next atomic.Int64
		next.Store(int64(s * n / slices))
		end := int64((s + 1) * n / slices)
		for range 32 {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < end; i = next.Add(1) - 1 {
					captured := at.Add(time.Duration(i%1000) * time.Millisecond)
					assertion, _, err := c.idp.Match(ctx, faces[i%riders], device)
					if err != nil {
						t.Error(err)
						return
					}
					tp := proto.Tap{EventID: proto.NewEventID(captured), Device: device, Site: catLinh, Kind: proto.KindMetroEntry,
						Assertion: assertion, CapturedAt: proto.At(captured),
						Offline: &proto.OfflineDecision{Open: true, Reason: proto.ReasonOK, Rule: "verified", DenyListVersion: 1, DecidedAt: proto.At(captured)}}
					b, err := tp.Encode()
					if err == nil {
						err = q.Append(tp.EventID, b)
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	c.idpNow.Store(0)
	st := q.Stats()
	q.Close()
	t.Logf("queue filled: %d taps, %.1f MB on disk, %d segments, in %v", st.Pending, float64(st.Bytes)/1e6, st.Segments, time.Since(fillStart).Round(time.Second))

	// The agent, as shipped: a static binary.
	bin := filepath.Join(t.TempDir(), "turnstile-agent")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if fi, err := os.Stat(bin); err == nil {
		t.Logf("binary: %.1f MB, CGO_ENABLED=0", float64(fi.Size())/1e6)
	}
	logs := filepath.Join(t.TempDir(), "agent.log")
	args := []string{"-device", device, "-site", catLinh, "-kind", "metro_entry", "-root", c.mq.Topics.Root,
		"-broker", c.mq.URL, "-state", state, "-drain-rate", strconv.Itoa(*drillRate), "-heartbeat", "5s"}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "VNPASS_MQTT_GATE_USER="+c.mq.GateUser, "VNPASS_MQTT_GATE_PASSWORD="+c.mq.GatePassword,
		"VNPASS_VNEID_URL="+c.idpURL, "VNPASS_VNEID_CLIENT_KEY="+clientKey, "VNPASS_VNEID_ISSUER="+vneidsim.DefaultIssuer)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	lf, _ := os.Create(logs)
	cmd.Stderr = lf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); lf.Close() })
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	pid := cmd.Process.Pid
	var peakRSS int64
	sample := func() (cpu time.Duration, rss int64) {
		cpu, rss = procUsage(t, pid)
		peakRSS = max(peakRSS, rss)
		return cpu, rss
	}
	var recorded int
	for recorded < n {
		if time.Since(start) > time.Duration(n/max(*drillRate/2, 1))*time.Second+5*time.Minute {
			t.Fatalf("drain stalled at %d of %d; logs:\n%s", recorded, n, tail(logs))
		}
		time.Sleep(500 * time.Millisecond)
		sample()
		if err := c.store.Pool().QueryRow(ctx, `SELECT count(*) FROM taps WHERE device = $1`, device).Scan(&recorded); err != nil {
			t.Fatal(err)
		}
	}
	drained := time.Since(start)
	drainCPU, _ := sample()
	var distinct int
	if err := c.store.Pool().QueryRow(ctx, `SELECT count(DISTINCT event_id) FROM taps WHERE device = $1`, device).Scan(&distinct); err != nil {
		t.Fatal(err)
	}
	if distinct != n || recorded != n {
		t.Errorf("%d taps recorded, %d distinct; want %d", recorded, distinct, n)
	}
	c.checkBooks()
	if os.Getenv("E2E_DUMP") != "" {
		b, _ := os.ReadFile(logs)
		t.Log(string(b))
	}
	t.Logf("drained %d taps in %v (%.0f taps/s, drain rate %d/s): agent CPU %v (%.0f%% of one core), peak RSS %.1f MB",
		n, drained.Round(time.Millisecond), float64(n)/drained.Seconds(), *drillRate, drainCPU.Round(time.Millisecond),
		100*drainCPU.Seconds()/drained.Seconds(), float64(peakRSS)/1e6)

	// A realistic rate: a busy metro gate, one rider every two seconds
	// (30 a minute), online.
	cpu0, _ := sample()
	steadyStart := time.Now()
	peakRSS = 0
	taps := 0
	for time.Since(steadyStart) < *drillSteady {
		fmt.Fprintln(stdin, faces[taps%riders])
		select {
		case l := <-lines:
			if !strings.Contains(l, "OPEN") && !strings.Contains(l, "CLOSED") {
				t.Fatalf("gate: %s", l)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no gate event; logs:\n%s", tail(logs))
		}
		taps++
		time.Sleep(2 * time.Second)
		sample()
	}
	cpu1, rss := sample()
	el := time.Since(steadyStart)
	t.Logf("steady: %d taps in %v: agent CPU %.2f%% of one core, RSS %.1f MB (peak %.1f MB); GOMAXPROCS here %d",
		taps, el.Round(time.Second), 100*(cpu1-cpu0).Seconds()/el.Seconds(), float64(rss)/1e6, float64(peakRSS)/1e6, runtime.GOMAXPROCS(0))
	stdin.Close()
}

// procUsage reads a process's CPU time (user + system) and resident memory
// from /proc.
func procUsage(t *testing.T, pid int) (time.Duration, int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name in parentheses; utime and stime are
	// the 14th and 15th fields, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var rss int64
	for _, line := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			rss = kb * 1024
		}
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, rss
}
