// Command vnpass-fleet is the fleet service: it keeps a live view of every
// gate from the devices' retained status (state, heartbeat, queue depth,
// software, clock offset, offline decisions, config applied), pushes
// versioned configs and tracks which device applied which, flags devices
// whose heartbeats are overdue, and serves it all to operators over HTTP.
//
// Subcommand device (add, revoke, list) gives devices their own broker
// logins, or takes them away: see deploy/local/devices.sh.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "device" {
		if err := deviceCmd(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "vnpass-fleet device:", err)
			if errors.Is(err, errUsage) {
				os.Exit(2)
			}
			os.Exit(1)
		}
		return
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(ctx, log); err != nil {
		log.Error("vnpass-fleet stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log.Info("starting vnpass-fleet", "config", cfg.String())
	m := &Main{Config: cfg, Log: log}
	if err := m.Open(ctx); err != nil {
		return err
	}
	log.Info("vnpass-fleet ready", "api", m.APIAddr())
	<-ctx.Done()
	log.Info("shutting down")
	return m.Close()
}
