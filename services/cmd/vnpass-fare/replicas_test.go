package main

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/ridershipch"
	"github.com/vnpass/vnpass/services/settlepg"
	"github.com/vnpass/vnpass/services/vneidsim"
)

// TestThreeReplicasOneKilled: three fare service processes share the tap
// stream (one MQTT shared subscription group, one PostgreSQL database, one
// ClickHouse database) while gates carry riders through Lines 2A and 3 (three
// journeys each, a third of them changing lines at Cát Linh); mid-run one
// replica, the one leading the analytics export, hangs (SIGSTOP: the broker
// goes on routing its share of taps to it) and is killed (SIGKILL), and is
// not restarted. The gates do what gate agents do: a tap with no decision is
// sent again under the same event id (every 2 s here), and some taps are
// delivered twice at once (QoS 1 may); one rider in eight has the second
// journey's entry and exit seen by both gates of the station at once (two
// taps, two event ids, one passage: a face in front of two adjacent
// cameras), which replicas may decide at the same moment: the rider lock
// must make the second a retap, not a second journey or a second charge
// (without the lock, about 20 such journeys are charged twice per run).
// Everything is then checked in the database, not in the test's counters:
// every tap the gates made is recorded once; each rider's journeys are the trips they made, in their order,
// priced as the fare rules price those stations in that order (transfer,
// caps); each journey is charged once; the books balance, the day
// reconciles, and ClickHouse holds every tap and journey once.
//
// How a rider's taps stay in order with any number of replicas (no
// partitioning of the stream by rider is needed; any replica may take any
// tap):
//
//  1. Causality at the gate. A gate opens only on the decision for its tap,
//     and the service publishes a decision only after the transaction that
//     recorded it committed. A rider cannot tap the next gate before the
//     previous tap is settled, so online taps of one rider reach the service
//     in the order the rider made them, whichever replica takes each.
//  2. One writer per rider at a time. Settling a tap locks the rider's
//     account row (SELECT ... FOR UPDATE, riders in id order in a group
//     commit); taps of one rider that do arrive together (two gates at once,
//     a tap delivered twice, to two replicas) are decided one after the
//     other, each on the state the previous one left. Within one replica's
//     batch a rider's second tap goes in the next round, after the first's
//     writes (services/settlepg/batch.go). The database backs this up: one
//     open journey per rider (a unique index), one tap row per event id (the
//     primary key), one ledger transaction per idempotency key.
//  3. Idempotency by event id. A tap sent again (the replica died, the
//     decision was lost) finds its row and gets the stored decision bytes;
//     it is never decided twice, whichever replica takes it. A replica that
//     dies mid-transaction leaves nothing: its transaction rolls back, the
//     broker has no session to queue for it (clean sessions), and the gate,
//     hearing nothing, sends the tap again to the replicas that are left.
//  4. Taps that arrive out of the rider's order (gates that decided offline
//     and drain later) are ordered by their capture times and the rules of
//     admission/offline.go (late entry refunds, late exit corrections); this
//     test keeps every gate online.
func TestThreeReplicasOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills three service processes")
	}
	ctx := context.Background()
	p := preparePlatform(t)
	base := p.cfg
	base.DecisionTimeout = 30 * time.Second // gates wait out the kill
	store, err := settlepg.Open(ctx, base.PostgresURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	const (
		nRiders = 240
		window  = 12 * time.Second // riders start across this window
		topUp   = 100_000
	)
	rng := rand.New(rand.NewSource(11))
	l2a, l3 := p.line2A(), p.lineStops("hn3-")
	riders := make([]*replicaRider, nRiders)
	for i := range riders {
		e, _, err := p.idp.Enroll(ctx, vneidsim.Enrollment{CCCD: fmt.Sprintf("001191%06d", i), FullName: "Đỗ Minh Châu", DateOfBirth: "1991-05-05"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.OpenRiderAccount(ctx, e.Subject); err != nil {
			t.Fatal(err)
		}
		tx, _ := ledger.Transfer("topup:replicas:"+e.Subject, "topup", "", ledger.ProviderSettlement("sim"), ledger.Rider(e.Subject), money.Dong(topUp))
		if err := store.Post(ctx, tx); err != nil {
			t.Fatal(err)
		}
		riders[i] = &replicaRider{subject: e.Subject, face: e.FaceRef, trips: planTrips(rng, i, l2a, l3),
			start: time.Duration(rng.Int63n(int64(window))), seed: int64(i), double: i%8 == 5}
	}

	// Three replicas, each with its own PostgreSQL application name so that
	// the test can tell which one leads the export.
	replicas := make([]*exec.Cmd, 3)
	names := make([]string, 3)
	addrs := make([]string, 3)
	for i := range replicas {
		c := base
		c.Instance, c.APIAddr = fmt.Sprintf("replica-%d-%s", i, testenv.Name("")), freeAddr(t)
		c.PostgresURL = withAppName(base.PostgresURL, c.Instance)
		replicas[i], names[i], addrs[i] = startService(t, c), c.Instance, c.APIAddr
	}
	var victim int
	waitFor(t, 20*time.Second, "a replica to lead the export", func() (bool, string) {
		var app string
		var pid int
		err := store.Pool().QueryRow(ctx, `SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
			uint32(exportLock>>32), uint32(exportLock&0xffffffff)).Scan(&app, &pid)
		for i, n := range names {
			if n == app {
				victim = i
				return true, ""
			}
		}
		return false, fmt.Sprintf("lock held by %q, pid %d (%v)", app, pid, err)
	})

	gates := newGateSet(t, p)
	var decided, resent, made atomic.Int64
	total := int64(0)
	for _, r := range riders {
		total += int64(2 * len(r.trips))
	}
	var wg sync.WaitGroup
	ridden := make(chan struct{}) // every rider done
	start := time.Now()
	for _, r := range riders {
		wg.Add(1)
		go func(r *replicaRider) {
			defer wg.Done()
			time.Sleep(r.start)
			rr := rand.New(rand.NewSource(r.seed))
			for k, tr := range r.trips {
				for _, leg := range []struct {
					kind proto.Kind
					site string
				}{{proto.KindMetroEntry, tr.from}, {proto.KindMetroExit, tr.to}} {
					n := rr.Intn(2)
					twice := rr.Intn(7) == 0
					var tp madeTap
					var err error
					if r.double && k == 1 {
						// Both gates of the station see the rider's face at
						// once: two taps, one passage.
						var twin madeTap
						var twinErr error
						var both sync.WaitGroup
						both.Add(1)
						go func() {
							defer both.Done()
							twin, twinErr = gates.gate(leg.site, leg.kind, 1-n).ride(r, leg.kind, false, &resent)
						}()
						tp, err = gates.gate(leg.site, leg.kind, n).ride(r, leg.kind, twice, &resent)
						both.Wait()
						made.Add(1)
						if twinErr != nil {
							t.Errorf("rider %s trip %d %s at %s (second gate): %v", r.subject, k, leg.kind, leg.site, twinErr)
							return
						}
						tp.twin = &twin
					} else {
						tp, err = gates.gate(leg.site, leg.kind, n).ride(r, leg.kind, twice, &resent)
					}
					made.Add(1)
					if err != nil {
						t.Errorf("rider %s trip %d %s at %s: %v", r.subject, k, leg.kind, leg.site, err)
						return
					}
					decided.Add(1)
					r.taps = append(r.taps, tp)
					time.Sleep(time.Duration(20+rr.Intn(150)) * time.Millisecond)
				}
			}
		}(r)
	}

	// Mid-run: the export leader hangs, then dies, and stays dead.
	var beforeKill int64
	var victimDecided float64
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for decided.Load() < total*2/5 {
			select {
			case <-ridden:
				return // the riders failed before; reported below
			case <-time.After(10 * time.Millisecond):
			}
		}
		victimDecided = scrapeValue(addrs[victim], "vnpass_decisions_published_total")
		replicas[victim].Process.Signal(syscall.SIGSTOP)
		time.Sleep(700 * time.Millisecond) // taps routed to it meanwhile die with it
		beforeKill = decided.Load()
		replicas[victim].Process.Signal(syscall.SIGKILL)
		replicas[victim].Wait()
	}()
	wg.Wait()
	close(ridden)
	<-killed
	elapsed := time.Since(start)
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d riders, %d taps in %s (%.0f taps/s); replica %d (export leader) killed after %d passages (%g decisions its own), %d after; %d taps re-sent by gates",
		nRiders, made.Load(), elapsed.Round(time.Millisecond), float64(made.Load())/elapsed.Seconds(), victim,
		beforeKill, victimDecided, decided.Load()-beforeKill, resent.Load())
	if victimDecided <= 0 {
		t.Errorf("the killed replica had decided no tap: it took no share of the stream")
	}
	if decided.Load()-beforeKill < total/4 {
		t.Errorf("only %d taps decided after the kill: not mid-run", decided.Load()-beforeKill)
	}
	if resent.Load() == 0 {
		t.Errorf("no tap was re-sent: nothing was in flight at the killed replica")
	}
	for i, a := range addrs {
		if i != victim {
			if n := scrapeValue(a, "vnpass_decisions_published_total"); n <= 0 {
				t.Errorf("replica %d decided %g taps", i, n)
			}
		}
	}

	checkReplicaRun(t, ctx, store, p.fares, riders, topUp)

	ch, err := ridershipch.Open(ctx, ridershipch.Config{Addr: base.CHAddr, User: base.CHUser, Password: base.CHPassword, Database: base.CHDatabase})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	journeys, madeTaps := 0, 0
	for _, r := range riders {
		journeys += len(r.trips)
		for _, mt := range r.taps {
			madeTaps += len(mt.all())
		}
	}
	waitFor(t, 60*time.Second, "ClickHouse to hold every tap and journey once (export taken over)", func() (bool, string) {
		c, err := ch.Count(ctx)
		return err == nil && c.Taps == uint64(madeTaps) && c.DistinctTaps == c.Taps && c.Journeys == uint64(journeys),
			fmt.Sprintf("%+v %v, want %d taps and %d journeys", c, err, madeTaps, journeys)
	})
}

// exportLock is settlepg's export advisory lock (outbox.go), as the test
// finds the replica that holds it.
const exportLock = 0x766e70617378

type trip struct{ from, to string }

type replicaRider struct {
	subject, face string
	trips         []trip
	start         time.Duration
	seed          int64
	double        bool      // the second trip's taps are seen by both gates at once
	taps          []madeTap // in the order the rider made them
}

type madeTap struct {
	eventID    string
	kind       proto.Kind
	site       string
	capturedAt time.Time
	twin       *madeTap // the same passage tapped at the station's other gate at once
}

// all is the tap and its twin, if any.
func (mt madeTap) all() []madeTap {
	if mt.twin != nil {
		return []madeTap{mt, *mt.twin}
	}
	return []madeTap{mt}
}

// is reports whether id is the tap's or its twin's.
func (mt madeTap) is(id string) bool {
	return id == mt.eventID || (mt.twin != nil && id == mt.twin.eventID)
}

// planTrips gives rider i three journeys, each starting where the last
// ended: on Line 2A, on Line 3, or from Line 2A to Line 3 changing at Cát
// Linh (one journey by the transfer rule).
func planTrips(rng *rand.Rand, i int, l2a, l3 []string) []trip {
	pick := func(line []string, not string) string {
		for {
			if s := line[rng.Intn(len(line))]; s != not {
				return s
			}
		}
	}
	switch i % 3 {
	case 0: // 2A to Cát Linh, then Line 3 on from Cát Linh, then Line 3
		a := pick(l2a, "hn2a-cat-linh")
		b := pick(l3, "hn3-cat-linh")
		return []trip{{a, "hn2a-cat-linh"}, {"hn3-cat-linh", b}, {b, pick(l3, b)}}
	case 1:
		a := pick(l2a, "")
		b := pick(l2a, a)
		c := pick(l2a, b)
		return []trip{{a, b}, {b, c}, {c, pick(l2a, c)}}
	default:
		a := pick(l3, "")
		b := pick(l3, a)
		c := pick(l3, b)
		return []trip{{a, b}, {b, c}, {c, pick(l3, c)}}
	}
}

// lineStops lists the stops whose id starts with prefix.
func (p *platform) lineStops(prefix string) []string {
	var out []string
	for _, s := range p.fares.Stops() {
		if strings.HasPrefix(s.ID, prefix) {
			out = append(out, s.ID)
		}
	}
	if len(out) < 3 {
		p.t.Fatalf("%d stops %s* in the fare data", len(out), prefix)
	}
	return out
}

func withAppName(pgURL, name string) string {
	sep := "?"
	if strings.Contains(pgURL, "?") {
		sep = "&"
	}
	return pgURL + sep + "application_name=" + name
}

// scrapeValue reads one unlabelled sample from a replica's /metrics; -1 when
// it cannot.
func scrapeValue(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return -1
}

// gateSet is two gates per station and direction, each its own MQTT
// session, serving riders concurrently.
type gateSet struct {
	t     *testing.T
	p     *platform
	mu    sync.Mutex
	gates map[string]*fleetGate
}

func newGateSet(t *testing.T, p *platform) *gateSet {
	return &gateSet{t: t, p: p, gates: map[string]*fleetGate{}}
}

type fleetGate struct {
	p         *platform
	site, dev string
	client    mqtt.Client
	mu        sync.Mutex
	waiting   map[string]chan proto.Decision
}

func (s *gateSet) gate(site string, kind proto.Kind, n int) *fleetGate {
	dir := "in"
	if kind == proto.KindMetroExit {
		dir = "out"
	}
	dev := fmt.Sprintf("%s-%s%02d", site, dir, n+1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.gates[dev]; g != nil {
		return g
	}
	g := &fleetGate{p: s.p, site: site, dev: dev, waiting: map[string]chan proto.Decision{}}
	topics := s.p.broker.Topics
	opts := mqtt.NewClientOptions().AddBroker(s.p.broker.URL).SetClientID("rg-" + testenv.Name("")).
		SetUsername(s.p.broker.GateUser).SetPassword(s.p.broker.GatePassword)
	g.client = mqtt.NewClient(opts)
	if tok := g.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		s.t.Errorf("gate %s: connect: %v", dev, tok.Error())
		return g
	}
	s.t.Cleanup(func() { g.client.Disconnect(100) })
	tok := g.client.Subscribe(topics.Decisions(site, dev), 1, func(_ mqtt.Client, m mqtt.Message) {
		d, err := proto.DecodeDecision(m.Payload())
		if err != nil {
			s.t.Errorf("gate %s: bad decision: %v", dev, err)
			return
		}
		g.mu.Lock()
		ch := g.waiting[d.EventID]
		g.mu.Unlock()
		if ch != nil {
			select {
			case ch <- d:
			default: // a second copy of a decision already taken
			}
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		s.t.Errorf("gate %s: subscribe: %v", dev, tok.Error())
	}
	s.gates[dev] = g
	return g
}

// ride makes one tap for the rider and sends it until its decision comes,
// re-sending the same bytes every 2 s; twice says to deliver it twice at
// once. The gate must open.
func (g *fleetGate) ride(r *replicaRider, kind proto.Kind, twice bool, resent *atomic.Int64) (madeTap, error) {
	a, _, err := g.p.idp.Match(context.Background(), r.face, g.dev)
	if err != nil {
		return madeTap{}, fmt.Errorf("VNeID match: %w", err)
	}
	now := time.Now()
	tp := proto.Tap{EventID: proto.NewEventID(now), Device: g.dev, Site: g.site, Kind: kind, Assertion: a, CapturedAt: proto.At(now)}
	b, err := tp.Encode()
	if err != nil {
		return madeTap{}, err
	}
	ch := make(chan proto.Decision, 4)
	g.mu.Lock()
	g.waiting[tp.EventID] = ch
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.waiting, tp.EventID)
		g.mu.Unlock()
	}()
	made := madeTap{eventID: tp.EventID, kind: kind, site: g.site, capturedAt: tp.CapturedAt.Time}
	publish := func() error {
		tok := g.client.Publish(g.p.broker.Topics.Taps(g.site, g.dev), 1, false, b)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return fmt.Errorf("publish: %v", tok.Error())
		}
		return nil
	}
	if err := publish(); err != nil {
		return made, err
	}
	if twice {
		if err := publish(); err != nil {
			return made, err
		}
	}
	deadline := time.After(25 * time.Second)
	for {
		select {
		case d := <-ch:
			if !d.Open || d.Reason != proto.ReasonOK {
				return made, fmt.Errorf("gate stayed shut: %s", d.Reason)
			}
			return made, nil
		case <-time.After(2 * time.Second):
			resent.Add(1)
			if err := publish(); err != nil {
				return made, err
			}
		case <-deadline:
			return made, fmt.Errorf("no decision for %s in 25 s", tp.EventID)
		}
	}
}

// checkReplicaRun checks, from the database alone, that every tap the
// riders made is recorded once, in the rider's order, and that each rider's
// journeys are their trips priced as the fare rules price them.
func checkReplicaRun(t *testing.T, ctx context.Context, store *settlepg.Store, fares *fare.Table, riders []*replicaRider, topUp int64) {
	t.Helper()
	type tapRow struct {
		subject, kind, site, reason string
		receivedAt                  time.Time
		open                        bool
		journey                     *int64
	}
	taps := map[string]tapRow{}
	rows, err := store.Pool().Query(ctx, `SELECT event_id::text, coalesce(subject, ''), kind, site, received_at, open, reason, journey_id FROM taps`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var r tapRow
		if err := rows.Scan(&id, &r.subject, &r.kind, &r.site, &r.receivedAt, &r.open, &r.reason, &r.journey); err != nil {
			t.Fatal(err)
		}
		taps[id] = r
	}
	rows.Close()

	type journeyRow struct {
		id                                         int64
		entryEvent, exitEvent, entrySite, exitSite string
		entryAt, exitAt                            time.Time
		status, network, category                  string
		fare                                       decimal.Decimal
		transferFrom                               *int64
	}
	journeys := map[string][]journeyRow{}
	rows, err = store.Pool().Query(ctx, `SELECT id, subject, coalesce(entry_event::text, ''), coalesce(exit_event::text, ''),
		coalesce(entry_site, ''), coalesce(exit_site, ''), coalesce(entry_at, 'epoch'), coalesce(exit_at, 'epoch'),
		status, network_id, category, coalesce(fare, -1), transfer_from
		FROM journeys ORDER BY subject, entry_at, id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var j journeyRow
		var subject string
		if err := rows.Scan(&j.id, &subject, &j.entryEvent, &j.exitEvent, &j.entrySite, &j.exitSite, &j.entryAt, &j.exitAt,
			&j.status, &j.network, &j.category, &j.fare, &j.transferFrom); err != nil {
			t.Fatal(err)
		}
		journeys[subject] = append(journeys[subject], j)
	}
	rows.Close()

	// Fare postings per journey, and what each took from the rider.
	charges := map[int64]int{}
	rows, err = store.Pool().Query(ctx, `SELECT journey_id, count(*) FROM ledger_transactions WHERE kind = 'fare' GROUP BY journey_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id *int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if id == nil {
			t.Errorf("%d fare postings name no journey", n)
			continue
		}
		charges[*id] = n
	}
	rows.Close()

	made := 0
	for _, r := range riders {
		for _, mt := range r.taps {
			made += len(mt.all())
		}
	}
	if len(taps) != made {
		t.Errorf("%d taps recorded, the gates made %d", len(taps), made)
	}
	bad := 0
	fail := func(format string, args ...any) {
		bad++
		if bad <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, r := range riders {
		// Every tap recorded once, opened, for this rider, received in the
		// order the rider made them (two gates tapped at once: both after
		// the tap before and before the tap after).
		var prev time.Time
		for k, primary := range r.taps {
			latest := prev
			for _, mt := range primary.all() {
				row, ok := taps[mt.eventID]
				switch {
				case !ok:
					fail("%s: tap %d (%s at %s) not recorded", r.subject, k, mt.kind, mt.site)
					continue
				case row.subject != r.subject || row.kind != string(mt.kind) || row.site != mt.site || !row.open || row.reason != "ok":
					fail("%s: tap %d recorded as %+v, made %+v", r.subject, k, row, mt)
				case k > 0 && !row.receivedAt.After(prev):
					fail("%s: tap %d received at %s, not after tap %d (%s)", r.subject, k, row.receivedAt, k-1, prev)
				}
				if row.receivedAt.After(latest) {
					latest = row.receivedAt
				}
			}
			prev = latest
		}
		// Journeys: the trips, in order, each entry before its exit and
		// its exit before the next entry, priced by the fare rules.
		js := journeys[r.subject]
		if len(js) != len(r.trips) {
			fail("%s: %d journeys, made %d trips", r.subject, len(js), len(r.trips))
			continue
		}
		want := expectedFares(t, fares, r)
		sum := decimal.Zero
		for k, j := range js {
			entry, exit := r.taps[2*k], r.taps[2*k+1]
			switch {
			case j.status != "closed":
				fail("%s journey %d: %s", r.subject, k, j.status)
			case !entry.is(j.entryEvent) || !exit.is(j.exitEvent):
				fail("%s journey %d: taps %s -> %s, made %s -> %s", r.subject, k, j.entryEvent, j.exitEvent, entry.eventID, exit.eventID)
			case j.entrySite != r.trips[k].from || j.exitSite != r.trips[k].to:
				fail("%s journey %d: %s -> %s, trip %s -> %s", r.subject, k, j.entrySite, j.exitSite, r.trips[k].from, r.trips[k].to)
			case !j.exitAt.After(j.entryAt):
				fail("%s journey %d: exit %s not after entry %s", r.subject, k, j.exitAt, j.entryAt)
			case k > 0 && !j.entryAt.After(js[k-1].exitAt):
				fail("%s journey %d: entered %s before the previous exit %s", r.subject, k, j.entryAt, js[k-1].exitAt)
			case !j.fare.Equal(want[k].fare):
				fail("%s journey %d %s -> %s: fare %s, fare rules give %s", r.subject, k, j.entrySite, j.exitSite, j.fare, want[k].fare)
			case (j.transferFrom != nil) != want[k].transfer || (j.transferFrom != nil && *j.transferFrom != js[k-1].id):
				fail("%s journey %d: transfer from %v, want a transfer: %v", r.subject, k, j.transferFrom, want[k].transfer)
			}
			for _, tp := range append(entry.all(), exit.all()...) {
				if row := taps[tp.eventID]; row.journey == nil || *row.journey != j.id {
					fail("%s journey %d: tap %s belongs to journey %v", r.subject, k, tp.eventID, row.journey)
				}
			}
			if n, wantN := charges[j.id], map[bool]int{true: 1, false: 0}[j.fare.IsPositive()]; n != wantN {
				fail("%s journey %d (fare %s): %d fare postings, want %d", r.subject, k, j.fare, n, wantN)
			}
			sum = sum.Add(j.fare)
		}
		a, err := store.Account(ctx, ledger.Rider(r.subject))
		if err != nil {
			t.Fatal(err)
		}
		if w := money.Dong(topUp).Sub(sum); !a.Balance.Equal(w) {
			fail("%s: balance %s, want %s", r.subject, money.Format(a.Balance), money.Format(w))
		}
	}
	if bad > 20 {
		t.Errorf("... %d failures in all", bad)
	}
	var open int
	store.Pool().QueryRow(ctx, "SELECT count(*) FROM journeys WHERE status = 'open'").Scan(&open)
	if open != 0 {
		t.Errorf("%d journeys left open", open)
	}
	if b, err := store.Books(ctx); err != nil || !b.Balanced() {
		t.Errorf("books: %+v %v", b, err)
	}
	rec, err := store.Reconcile(ctx, time.Now(), nil)
	if err != nil || !rec.OK() {
		shown := rec.Differences
		if len(shown) > 5 {
			shown = shown[:5]
		}
		t.Errorf("reconciliation: %v; %d differences: %v ...", err, len(rec.Differences), shown)
	}
}

type expectedJourney struct {
	fare     decimal.Decimal
	transfer bool
}

// expectedFares prices the rider's trips in order from the fare data, as
// the capture times say they were made: a trip following a complete journey
// that was not itself a transfer may be one by the transfer rules; then the
// day and month caps of the network, counting what the rider paid on it.
func expectedFares(t *testing.T, fares *fare.Table, r *replicaRider) []expectedJourney {
	t.Helper()
	type key struct {
		network string
		from    time.Time
	}
	spent := map[key]decimal.Decimal{}
	out := make([]expectedJourney, len(r.trips))
	var prev *fare.Leg
	prevTransfer := false
	for k, tr := range r.trips {
		stop, _ := fares.Stop(tr.from)
		category := fares.Category(fare.Rider{Age: 35}, stop.NetworkID)
		leg := fare.Leg{From: tr.from, To: tr.to, EntryAt: r.taps[2*k].capturedAt, ExitAt: r.taps[2*k+1].capturedAt, Category: category}
		var charge decimal.Decimal
		transfer := false
		if prev != nil && !prevTransfer {
			tq, err := fares.Transfer(*prev, leg)
			if err != nil {
				t.Fatal(err)
			}
			charge, transfer = tq.Charge, tq.RuleID != ""
		} else {
			q, err := fares.PriceFor(fare.Query{From: tr.from, To: tr.to, Category: category, At: leg.EntryAt, ExitAt: leg.ExitAt})
			if err != nil {
				t.Fatal(err)
			}
			charge = q.Amount
		}
		day, _ := fare.Day(leg.EntryAt)
		month, _ := fare.Month(leg.EntryAt)
		dayKey, monthKey := key{stop.NetworkID, day}, key{stop.NetworkID + "/month", month}
		c := fares.Cap(stop.NetworkID, category, spent[dayKey], spent[monthKey], charge)
		spent[dayKey] = spent[dayKey].Add(c.Charge)
		spent[monthKey] = spent[monthKey].Add(c.Charge)
		out[k] = expectedJourney{fare: c.Charge, transfer: transfer}
		leg.Charged = c.Charge
		prev, prevTransfer = &leg, transfer
	}
	return out
}
