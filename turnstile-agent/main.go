// Command turnstile-agent runs one gate: it reads face captures from stdin
// (the simulated camera), matches each with the VNeID face-match service,
// taps in over MQTT and prints what the simulated turnstile does.
//
//	printf 'face-0001\nface-0002\n' | turnstile-agent -device hn2a-cat-linh-g01 -site hn2a-cat-linh -kind metro_entry
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/vneid"
	"github.com/vnpass/vnpass/turnstile-agent/agent"
	"github.com/vnpass/vnpass/turnstile-agent/camera"
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

	a, err := agent.New(agent.Config{
		Device:          cfg.device,
		Site:            cfg.site,
		Kind:            cfg.kind,
		Topics:          proto.Topics{Root: cfg.root},
		BrokerURL:       cfg.broker,
		Username:        cfg.user,
		Password:        cfg.password,
		DecisionTimeout: cfg.timeout,
		Matcher:         vneidmatch.Matcher{Client: &vneid.MatchClient{BaseURL: cfg.vneidURL, ClientKey: cfg.vneidKey}},
		Gate:            gatesim.New(cfg.device, stdout),
		Logger:          log,
	})
	if err != nil {
		return err
	}
	connectCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = a.Connect(connectCtx)
	cancel()
	if err != nil {
		return err
	}
	defer a.Close()

	done := make(chan struct{})
	defer close(done)
	captures, readErr := readCaptures(stdin, done, log)
	for ctx.Err() == nil {
		var c camera.Capture
		var ok bool
		select {
		case <-ctx.Done():
			continue
		case c, ok = <-captures:
		}
		if !ok {
			if err := <-readErr; err != nil {
				return err
			}
			log.Info("end of input, stopping", stats(a.Stats())...)
			return nil
		}
		// The rider at the gate gets an answer even if we are stopping.
		tapCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.DecisionTimeout()+10*time.Second)
		_, err := a.Tap(tapCtx, c.FaceRef, c.Plate)
		cancel()
		if err != nil {
			log.Error("tap failed", "device", cfg.device, "error", err)
		}
	}
	log.Info("signal received, stopping", stats(a.Stats())...)
	return nil
}

// readCaptures reads the camera on its own goroutine (a read from stdin
// cannot be interrupted) and closes captures at the end of the input; then
// readErr holds nil or what ended it. It stops when done is closed, except
// that it may stay blocked in a read until the process exits.
func readCaptures(in io.Reader, done <-chan struct{}, log *slog.Logger) (<-chan camera.Capture, <-chan error) {
	captures := make(chan camera.Capture)
	readErr := make(chan error, 1)
	go func() {
		defer close(captures)
		r := camera.NewReader(in)
		for {
			c, err := r.Read()
			var le *camera.LineError
			switch {
			case err == io.EOF:
				readErr <- nil
				return
			case errors.As(err, &le):
				log.Warn("capture line skipped", "line", le.Line, "error", le.Err)
				continue
			case err != nil:
				readErr <- fmt.Errorf("read captures: %w", err)
				return
			}
			select {
			case captures <- c:
			case <-done:
				return
			}
		}
	}()
	return captures, readErr
}

func stats(s agent.Stats) []any {
	return []any{"taps", s.Taps, "opened", s.Opened, "refused", s.Refused, "timeouts", s.Timeouts,
		"no_match", s.NoMatch, "stray_decisions", s.StrayDecisions, "malformed_decisions", s.MalformedDecisions}
}
