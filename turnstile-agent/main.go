// Command turnstile-agent runs one gate: it reads face captures from stdin
// (the simulated camera), matches each with the VNeID face-match service,
// taps in over MQTT and prints what the simulated turnstile does.
//
//	printf 'face-0001\nface-0002\n' | turnstile-agent -device hn2a-cat-linh-g01 -site hn2a-cat-linh -kind metro_entry
//
// Every tap goes through a durable queue in the state directory (-state)
// first, and when the cloud cannot answer in time the gate decides offline
// with the VNeID keys it keeps there (see turnstile-agent/README.md). It is
// built as a single static binary: CGO_ENABLED=0 go build ./turnstile-agent.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/camera"
	"github.com/vnpass/vnpass/turnstile-agent/device"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
	"github.com/vnpass/vnpass/turnstile-agent/vneidmatch"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "turnstile-agent:", err)
		os.Exit(1)
	}
}

// jwksFile is where the VNeID keys are kept in the state directory.
const jwksFile = "jwks.json"

// drainAtEnd bounds the wait, at the end of the input, for the queue to
// empty: taps decided offline go to the cloud before the gate stops.
const drainAtEnd = 10 * time.Second

// run connects the gate, taps in every capture read from stdin, one rider at
// a time, and returns at the end of the input or when ctx ends. A tap in
// progress is finished first; then the agent says offline and disconnects.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	log.Info("starting", cfg.attrs()...)

	// The simulated hardware: a camera and plate reader reading scenario
	// lines, a turnstile printing what it does.
	cam := camera.NewStream(stdin, func(le *camera.LineError) {
		log.Warn("capture line skipped", "line", le.Line, "error", le.Err)
	})
	defer cam.Close()
	var (
		faces  device.Camera      = cam
		plates device.PlateReader = cam
	)
	sim := gatesim.New(cfg.device, stdout)
	gate := device.Gate{Actuator: sim, Display: sim, Log: log}

	acfg := agent.Config{
		Device:          cfg.device,
		Site:            cfg.site,
		Kind:            cfg.kind,
		Topics:          proto.Topics{Root: cfg.root},
		BrokerURL:       cfg.broker,
		Username:        cfg.user,
		Password:        cfg.password,
		DecisionTimeout: cfg.timeout,
		Matcher:         vneidmatch.Matcher{Client: &vneid.MatchClient{BaseURL: cfg.vneidURL, ClientKey: cfg.vneidKey}},
		Gate:            gate,
		Logger:          log,
		Dir:             cfg.state,
		DrainRate:       cfg.drainRate,
		Heartbeat:       cfg.heartbeat,
	}
	if cfg.state != "" {
		verifier, stopKeys, err := keys(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer stopKeys()
		acfg.Verifier = verifier
	}
	a, err := agent.New(acfg)
	if err != nil {
		return err
	}
	defer a.Close()
	connectCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = a.Connect(connectCtx)
	cancel()
	switch {
	case err != nil && cfg.state != "" && errors.Is(err, agent.ErrNotConnected):
		log.Warn("broker not reachable; deciding offline until it is", "error", err)
	case err != nil:
		return err
	}

	for ctx.Err() == nil {
		face, err := faces.Next(ctx)
		switch {
		case ctx.Err() != nil:
			continue
		case err == io.EOF:
			log.Info("end of input, stopping", stats(a.Stats())...)
			waitDrained(ctx, a, log)
			return nil
		case err != nil:
			return fmt.Errorf("camera: %w", err)
		}
		plate, err := plates.Plate(ctx)
		if err != nil {
			log.Warn("plate not read", "error", err)
		}
		// The rider at the gate gets an answer even if we are stopping.
		tapCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*a.DecisionTimeout()+10*time.Second)
		_, err = a.Tap(tapCtx, face, plate)
		cancel()
		if err != nil {
			log.Error("tap failed", "error", err)
		}
	}
	log.Info("signal received, stopping", stats(a.Stats())...)
	return nil
}

// keys is the VNeID verifier for offline decisions: the keys kept in the
// state directory at once, then the provider's, fetched now if it answers,
// and every few minutes after; each fetch is kept for the next start.
func keys(ctx context.Context, cfg config, log *slog.Logger) (*vneid.Verifier, func(), error) {
	path := filepath.Join(cfg.state, jwksFile)
	if err := os.MkdirAll(cfg.state, 0o750); err != nil {
		return nil, nil, fmt.Errorf("state: %w", err)
	}
	v, err := vneid.NewVerifier(vneid.VerifierConfig{
		Issuer: cfg.vneidIssuer, JWKSURL: cfg.jwksURL, FetchTimeout: 2 * time.Second,
		OnJWKS: func(doc []byte) {
			if err := agent.WriteFileAtomic(path, doc); err != nil {
				log.Warn("VNeID keys not kept on disk", "error", err)
			}
		},
	})
	if err != nil {
		return nil, nil, err
	}
	if doc, err := os.ReadFile(path); err == nil {
		if err := v.LoadJWKS(doc); err != nil {
			log.Error("VNeID keys kept on disk not usable", "error", err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	if err := v.Refresh(rctx); err != nil {
		log.Warn("VNeID keys not fetched; using those kept on disk", "error", err, "keys", len(v.KeyIDs()))
	}
	cancel()
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		v.Run(bg, func(err error) { log.Warn("VNeID keys not refreshed", "error", err) })
	}()
	return v, func() { stop(); <-done }, nil
}

// waitDrained waits a little for the taps still queued to be decided, so
// that what was decided offline reaches the cloud before the gate stops.
// What is left is sent at the next start.
func waitDrained(ctx context.Context, a *agent.Agent, log *slog.Logger) {
	deadline := time.Now().Add(drainAtEnd)
	for a.Stats().QueueDepth > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if n := a.Stats().QueueDepth; n > 0 {
		log.Warn("taps still queued; they are sent at the next start", "queue_depth", n)
	}
}

func stats(s agent.Stats) []any {
	return []any{"taps", s.Taps, "opened", s.Opened, "refused", s.Refused, "timeouts", s.Timeouts,
		"no_match", s.NoMatch, "stray_decisions", s.StrayDecisions, "malformed_decisions", s.MalformedDecisions,
		"offline_opened", s.OfflineOpened, "offline_refused", s.OfflineRefused, "queue_depth", s.QueueDepth,
		"corrupt_queued", s.CorruptQueued}
}
