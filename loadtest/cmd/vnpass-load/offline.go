package main

import (
	"context"
	"fmt"
	"github.com/vnpass/vnpass/internal/netcut"
	"log/slog"
	"os"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/loadtest/sustain"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
)

// gateAgent adapts a turnstile-agent to the load's scheduled taps.
type gateAgent struct{ a *agent.Agent }

func (g gateAgent) Tap(ctx context.Context, faceRef, plate string) (sustain.AgentResult, error) {
	res, err := g.a.Tap(ctx, faceRef, plate)
	return sustain.AgentResult{EventID: res.EventID, Decision: res.Decision, Offline: res.Offline, Latency: res.Latency}, err
}

// offlineGates are the real gate agents of the gate-offline drill, behind
// one link to the broker.
type offlineGates struct {
	link   *netcut.Link
	agents []*agent.Agent
	gates  []sustain.Gate
	svc    mqtt.Client
	topics proto.Topics
	dirs   []string
}

// busiest picks the metro entry gate and the metro exit gate with the most
// scheduled taps: a drill at a quiet gate proves little.
func busiest(sched *sustain.Schedule, riders []sustain.Rider) []sustain.Gate {
	count := map[sustain.Gate]int{}
	for _, sl := range sched.Slots {
		count[riders[sl.Rider].Steps[sl.Step].Gate]++
	}
	var out []sustain.Gate
	for _, kind := range []proto.Kind{proto.KindMetroEntry, proto.KindMetroExit} {
		var best sustain.Gate
		for g, n := range count {
			if g.Kind == kind && (n > count[best] || n == count[best] && g.Device < best.Device) {
				best = g
			}
		}
		if best.Device != "" {
			out = append(out, best)
		}
	}
	return out
}

// startOfflineGates starts a real agent (with a state directory: queue and
// offline decisions) at each gate, connected through a link the drill can
// cut. The offline policy and an empty, fresh deny list are pushed to each
// on its config topic, retained, as vnpass-fleet does (without a deny list
// a gate refuses every entry offline).
func startOfflineGates(ctx context.Context, gates []sustain.Gate, brokerURL, gateUser, gatePass, svcUser, svcPass string,
	topics proto.Topics, matcher agent.Matcher, jwksURL, issuer string) (*offlineGates, error) {
	o := &offlineGates{topics: topics, gates: gates}
	var err error
	if o.link, err = netcut.New(brokerURL); err != nil {
		return nil, err
	}
	o.svc = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(fmt.Sprintf("load-cfg-%d", time.Now().UnixNano()%1e9)).
		SetUsername(svcUser).SetPassword(svcPass))
	if tok := o.svc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		o.Close()
		return nil, fmt.Errorf("gate-offline: service connect: %v", tok.Error())
	}
	v, err := vneid.NewVerifier(vneid.VerifierConfig{Issuer: issuer, JWKSURL: jwksURL})
	if err != nil {
		o.Close()
		return nil, err
	}
	if err := v.Refresh(ctx); err != nil {
		o.Close()
		return nil, err
	}
	for _, g := range gates {
		now := time.Now()
		b, err := proto.Config{Version: 1, Device: g.Device, Site: g.Site, Kind: g.Kind, DecisionTimeoutMS: 2000, IssuedAt: proto.At(now),
			Offline:  &proto.OfflinePolicy{MaxEntriesPerDay: 2, DenyListMaxAgeH: 24, PassBackS: 600},
			DenyList: &proto.DenyList{Version: 1, IssuedAt: proto.At(now), Subjects: []string{}}}.Encode()
		if err != nil {
			o.Close()
			return nil, err
		}
		if tok := o.svc.Publish(topics.Config(g.Site, g.Device), 1, true, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			o.Close()
			return nil, fmt.Errorf("gate-offline: push config to %s: %v", g.Device, tok.Error())
		}
		dir, err := os.MkdirTemp("", "vnpass-load-agent-*")
		if err != nil {
			o.Close()
			return nil, err
		}
		o.dirs = append(o.dirs, dir)
		a, err := agent.New(agent.Config{Device: g.Device, Site: g.Site, Kind: g.Kind, Topics: topics,
			BrokerURL: o.link.URL(), Username: gateUser, Password: gatePass, DecisionTimeout: 2 * time.Second,
			Software: "vnpass-load/gate-offline", Matcher: matcher, Gate: gatesim.New(g.Device, nil),
			Logger: slog.New(slog.DiscardHandler), Dir: dir, Verifier: v, ResendAfter: 2 * time.Second})
		if err != nil {
			o.Close()
			return nil, err
		}
		o.agents = append(o.agents, a)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = a.Connect(cctx)
		cancel()
		// The first connection may be dropped while it subscribes (seen once
		// on a busy machine); the agent goes on trying by itself: wait for it.
		for wait := time.Now().Add(20 * time.Second); err != nil && time.Now().Before(wait); time.Sleep(200 * time.Millisecond) {
			if a.Connected() {
				err = nil
			}
		}
		if err != nil {
			o.Close()
			return nil, fmt.Errorf("gate-offline: agent %s: %w", g.Device, err)
		}
	}
	// Wait for the pushed config (deny list) to be in force.
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range o.agents {
		for a.Stats().ConfigsApplied < 1 {
			if time.Now().After(deadline) {
				o.Close()
				return nil, fmt.Errorf("gate-offline: %s did not apply its pushed config", a.Device())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return o, nil
}

// byDevice is the agents for sustain.Config.Agents.
func (o *offlineGates) byDevice() map[string]sustain.AgentGate {
	m := map[string]sustain.AgentGate{}
	for _, a := range o.agents {
		m[a.Device()] = gateAgent{a}
	}
	return m
}

func (o *offlineGates) devices() []string {
	var d []string
	for _, g := range o.gates {
		d = append(d, g.Device)
	}
	return d
}

// queued is the taps in the agents' queues not yet decided by the cloud.
func (o *offlineGates) queued() int {
	n := 0
	for _, a := range o.agents {
		n += a.Stats().QueueDepth
	}
	return n
}

func (o *offlineGates) connected() int {
	n := 0
	for _, a := range o.agents {
		if a.Connected() {
			n++
		}
	}
	return n
}

func (o *offlineGates) Close() {
	for _, a := range o.agents {
		a.Close()
	}
	if o.svc != nil && o.svc.IsConnected() {
		for _, g := range o.gates {
			// What the drill left retained on the broker goes with it.
			o.svc.Publish(o.topics.Config(g.Site, g.Device), 1, true, []byte{}).WaitTimeout(5 * time.Second)
			o.svc.Publish(o.topics.Status(g.Site, g.Device), 1, true, []byte{}).WaitTimeout(5 * time.Second)
		}
		o.svc.Disconnect(100)
	}
	if o.link != nil {
		o.link.Close()
	}
	for _, d := range o.dirs {
		os.RemoveAll(d)
	}
}
