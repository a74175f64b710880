// Package rush simulates riders moving through metro stations: it enrolls
// citizens at the VNeID provider, links and funds their vnpass accounts
// through the platform's API, runs a gate agent per turnstile over real
// MQTT and sends each rider through an entry gate at one station and an
// exit gate at another. It speaks only the wire contract and public APIs,
// so it drives the platform exactly as gates and riders would.
package rush

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/fleet/dynsec"
	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
	"github.com/vnpass/vnpass/turnstile-agent/vneidmatch"
)

// Config of a simulated rush.
type Config struct {
	Stations        []string // site ids
	GatesPerStation int      // entry gates and exit gates per station, default 1 of each
	Riders          int
	Window          time.Duration // arrivals spread uniformly over this, default 10s
	RideTime        time.Duration // least time between entry and exit (up to 1.5 times that), default 3s
	TopUpVND        int64         // each rider's opening top-up, default 100.000

	Topics                        proto.Topics
	BrokerURL, GateUser, GatePass string
	// Logins gives each gate its own broker login. Nil: see Config.logins
	// (provisioned in the real root, the shared GateUser login in test roots).
	Logins          Logins
	DecisionTimeout time.Duration

	VNeIDURL       string // the identity provider (enrolment, face match)
	VNeIDClientKey string
	APIURL         string // the platform's accounts API
	APIToken       string // an admin token: links accounts and tops them up
	// PostpaidEvery makes every n-th adult rider link a bank account and
	// travel post-paid (0: none); RiderToken then gives a rider's API token.
	PostpaidEvery int
	RiderToken    func(subject string) (string, error)

	// ParkingLot, when set with ParkEvery, puts an entry and an exit
	// barrier at that parking lot (a lot id of the parking data, e.g.
	// hnp-cat-linh): every ParkEvery-th rider parks a motorbike there
	// before the trip and takes it out after.
	ParkingLot string
	ParkEvery  int

	Out  io.Writer // gate events, one line each; nil for none
	Log  *slog.Logger
	Seed uint64
}

// Trip is one rider's journey and what the gates said.
type Trip struct {
	Rider       Rider
	Origin      string
	Destination string
	Entry       agent.Result
	Exit        agent.Result
	Exited      bool // an exit was attempted (the entry opened)
	// Parked is set for a rider who parked (Config.ParkingLot): the plate
	// and what the lot's barriers said.
	Parked          bool
	Plate           string
	ParkIn, ParkOut agent.Result
}

// Report is the outcome of a rush.
type Report struct {
	Trips     []Trip
	Taps      int
	Opened    int
	Refused   int
	TimedOut  int
	Latencies []time.Duration // publish -> decision, of taps that got one
	Elapsed   time.Duration
	// Parking barrier taps (not counted above) and how many opened.
	ParkingTaps, ParkingOpened int
	// TappedAgain counts taps made a second time because the gate itself
	// failed the first (its VNeID match or uplink; a machine too loaded).
	TappedAgain int
}

// Percentile of the decision latencies (p in 0..100).
func (r *Report) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	l := append([]time.Duration(nil), r.Latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	i := int(p / 100 * float64(len(l)-1))
	return l[i]
}

func (c *Config) defaults() error {
	if len(c.Stations) < 2 {
		return errors.New("rush: need at least two stations")
	}
	if c.GatesPerStation <= 0 {
		c.GatesPerStation = 1
	}
	if c.Riders <= 0 {
		return errors.New("rush: need riders")
	}
	if c.Window <= 0 {
		c.Window = 10 * time.Second
	}
	if c.RideTime <= 0 {
		c.RideTime = 3 * time.Second // the fare service refuses an exit sooner than 3 s after the entry
	}
	if c.TopUpVND == 0 {
		c.TopUpVND = 100_000
	}
	if c.DecisionTimeout <= 0 {
		c.DecisionTimeout = 2 * time.Second // what the fare service waits at most (VNPASS_DECISION_TIMEOUT)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	return nil
}

// station's gates.
type station struct {
	entries, exits []*agent.Agent
}

// Run enrolls and funds the riders, starts the gates, sends every rider
// through and returns what happened. The gates are closed at the end.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	httpc := &http.Client{Timeout: 10 * time.Second}
	riders, err := Enroll(ctx, httpc, cfg.VNeIDURL, cfg.Riders, rng)
	if err != nil {
		return nil, err
	}
	api := &API{BaseURL: cfg.APIURL, Token: cfg.APIToken, HTTP: httpc}
	if cfg.PostpaidEvery > 0 {
		if cfg.RiderToken == nil {
			return nil, errors.New("rush: post-paid riders need RiderToken")
		}
		for i := range riders {
			// Adults only: a child or a senior rides free anyway.
			riders[i].Postpaid = i%cfg.PostpaidEvery == 1 && riders[i].Age >= 18 && riders[i].Age < 60
		}
	}
	if err := fund(ctx, api, riders, cfg.TopUpVND, cfg.RiderToken); err != nil {
		return nil, err
	}
	matcher := vneidmatch.Matcher{Client: &vneid.MatchClient{BaseURL: cfg.VNeIDURL, ClientKey: cfg.VNeIDClientKey, HTTP: httpc}}
	stations, all, err := startGates(ctx, cfg, matcher)
	defer func() {
		for _, a := range all {
			a.Close()
		}
	}()
	if err != nil {
		return nil, err
	}

	rep := &Report{Trips: make([]Trip, len(riders))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i, r := range riders {
		o := rng.IntN(len(cfg.Stations))
		d := rng.IntN(len(cfg.Stations) - 1)
		if d >= o {
			d++
		}
		trip := Trip{Rider: r, Origin: cfg.Stations[o], Destination: cfg.Stations[d]}
		arrive := time.Duration(rng.Int64N(int64(cfg.Window)))
		ride := cfg.RideTime + time.Duration(rng.Int64N(int64(cfg.RideTime)/2+1))
		in := stations[trip.Origin].entries[rng.IntN(cfg.GatesPerStation)]
		out := stations[trip.Destination].exits[rng.IntN(cfg.GatesPerStation)]
		var lot *station
		if l := stations[cfg.ParkingLot]; l != nil && cfg.ParkEvery > 0 && i%cfg.ParkEvery == 0 {
			lot, trip.Parked, trip.Plate = l, true, fmt.Sprintf("29B1-%03d.%02d", i/100%1000, i%100)
		}
		wg.Add(1)
		go func(i int, trip Trip) {
			defer wg.Done()
			if !sleep(ctx, arrive) {
				return
			}
			// A gate that fails itself (its VNeID match or its uplink; the
			// display says "System error") is tried once more, as a rider
			// presents their face again; counted in the report.
			tap := func(g *agent.Agent, plate string) agent.Result {
				res, err := g.Tap(ctx, trip.Rider.FaceRef, plate)
				if err != nil && !res.Decision.Open && res.Decision.Reason == proto.ReasonInternal && sleep(ctx, 300*time.Millisecond) {
					cfg.Log.Warn("gate failed, the rider taps again", "device", g.Device(), "err", err)
					mu.Lock()
					rep.TappedAgain++
					mu.Unlock()
					res, _ = g.Tap(ctx, trip.Rider.FaceRef, plate)
				}
				return res
			}
			if lot != nil {
				trip.ParkIn = tap(lot.entries[0], trip.Plate)
			}
			trip.Entry = tap(in, "")
			if trip.Entry.Decision.Open && sleep(ctx, ride) {
				trip.Exited = true
				trip.Exit = tap(out, "")
			}
			if lot != nil && trip.ParkIn.Decision.Open {
				trip.ParkOut = tap(lot.exits[0], trip.Plate)
			}
			mu.Lock()
			rep.Trips[i] = trip
			mu.Unlock()
		}(i, trip)
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	for _, t := range rep.Trips {
		if t.Parked {
			for _, res := range []agent.Result{t.ParkIn, t.ParkOut} {
				if res.EventID != "" || res.Decision.Reason != "" {
					rep.ParkingTaps++
					if res.Decision.Open {
						rep.ParkingOpened++
					}
				}
			}
		}
		for _, res := range []agent.Result{t.Entry, t.Exit} {
			if res.EventID == "" && !res.Decision.Open && res.Decision.Reason == "" {
				continue // no tap made
			}
			rep.Taps++
			switch {
			case res.TimedOut:
				rep.TimedOut++
			case res.Decision.Open:
				rep.Opened++
			default:
				rep.Refused++
			}
			if !res.Local {
				rep.Latencies = append(rep.Latencies, res.Latency)
			}
		}
	}
	return rep, ctx.Err()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// startGates connects an entry and an exit agent per gate position, each
// with its own broker login.
func startGates(ctx context.Context, cfg Config, m agent.Matcher) (map[string]*station, []*agent.Agent, error) {
	type gate struct {
		site, dev string
		kind      proto.Kind
	}
	var gates []gate
	var devices []dynsec.Device
	for _, site := range cfg.Stations {
		for g := 1; g <= cfg.GatesPerStation; g++ {
			for _, kind := range []proto.Kind{proto.KindMetroEntry, proto.KindMetroExit} {
				dir := "in"
				if kind == proto.KindMetroExit {
					dir = "out"
				}
				dev := fmt.Sprintf("%s-%s%02d", site, dir, g)
				gates = append(gates, gate{site, dev, kind})
				devices = append(devices, dynsec.Device{Site: site, Device: dev})
			}
		}
	}
	if cfg.ParkingLot != "" && cfg.ParkEvery > 0 {
		for _, kind := range []proto.Kind{proto.KindParkingEntry, proto.KindParkingExit} {
			dir := "in"
			if kind == proto.KindParkingExit {
				dir = "out"
			}
			dev := fmt.Sprintf("%s-%s01", cfg.ParkingLot, dir)
			gates = append(gates, gate{cfg.ParkingLot, dev, kind})
			devices = append(devices, dynsec.Device{Site: cfg.ParkingLot, Device: dev})
		}
	}
	logins, done, err := cfg.logins(ctx)
	if err != nil {
		return nil, nil, err
	}
	creds, err := logins.Logins(ctx, devices)
	done()
	if err != nil {
		return nil, nil, fmt.Errorf("rush: gates' broker logins: %w", err)
	}

	stations := make(map[string]*station, len(cfg.Stations))
	for _, site := range cfg.Stations {
		stations[site] = &station{}
	}
	if cfg.ParkingLot != "" && cfg.ParkEvery > 0 {
		stations[cfg.ParkingLot] = &station{}
	}
	var all []*agent.Agent
	for i, g := range gates {
		a, err := agent.New(agent.Config{
			Device: g.dev, Site: g.site, Kind: g.kind, Topics: cfg.Topics,
			BrokerURL: cfg.BrokerURL, Username: creds[i].Username, Password: creds[i].Password,
			DecisionTimeout: cfg.DecisionTimeout, Software: "vnpass-rush/0.1.0",
			Matcher: m, Gate: gatesim.New(g.dev, cfg.Out), Logger: cfg.Log,
		})
		if err != nil {
			return nil, all, err
		}
		if err := a.Connect(ctx); err != nil {
			return nil, all, fmt.Errorf("rush: gate %s: %w", g.dev, err)
		}
		all = append(all, a)
		if st := stations[g.site]; g.kind == proto.KindMetroEntry || g.kind == proto.KindParkingEntry {
			st.entries = append(st.entries, a)
		} else {
			st.exits = append(st.exits, a)
		}
	}
	return stations, all, nil
}
