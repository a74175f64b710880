// Command vneid-sim runs the simulated VNeID identity provider (see
// services/vneidsim) for development and load tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/vnpass/vnpass/services/vneidsim"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log); err != nil {
		log.Error("vneid-sim failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	cfg, err := loadConfig(os.Args[1:], os.Getenv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	return serve(ctx, log, cfg, ln)
}

const shutdownTimeout = 10 * time.Second

type config struct {
	Addr         string
	Dir          string
	ClientKey    string
	Issuer       string
	RelyingParty string
	TTL          time.Duration
}

// loadConfig reads flags, each defaulting to its environment variable.
func loadConfig(args []string, getenv func(string) string) (config, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("vneid-sim", flag.ContinueOnError)
	var cfg config
	var ttl string
	fs.StringVar(&cfg.Addr, "addr", env("VNEID_SIM_ADDR", "127.0.0.1:58090"), "listen address (VNEID_SIM_ADDR)")
	fs.StringVar(&cfg.Dir, "dir", env("VNEID_SIM_DIR", ""), `state directory; "" keeps state in memory (VNEID_SIM_DIR)`)
	fs.StringVar(&cfg.ClientKey, "client-key", env("VNEID_SIM_CLIENT_KEY", ""), "bearer key shared with gates, required (VNEID_SIM_CLIENT_KEY)")
	fs.StringVar(&cfg.Issuer, "issuer", env("VNEID_SIM_ISSUER", vneidsim.DefaultIssuer), "iss of assertions (VNEID_SIM_ISSUER)")
	fs.StringVar(&cfg.RelyingParty, "relying-party", env("VNEID_SIM_RELYING_PARTY", vneidsim.DefaultRelyingParty), "scope of pairwise subjects (VNEID_SIM_RELYING_PARTY)")
	fs.StringVar(&ttl, "ttl", env("VNEID_SIM_TTL", vneidsim.DefaultTTL.String()), "assertion lifetime, e.g. 60s or 60 (VNEID_SIM_TTL)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	d, err := time.ParseDuration(ttl)
	if err != nil {
		secs, serr := strconv.Atoi(ttl)
		if serr != nil {
			return config{}, fmt.Errorf("ttl %q: want a duration (60s) or seconds (60)", ttl)
		}
		d = time.Duration(secs) * time.Second
	}
	cfg.TTL = d
	if cfg.ClientKey == "" {
		return config{}, errors.New("client key is required (-client-key or VNEID_SIM_CLIENT_KEY)")
	}
	return cfg, nil
}

// serve runs the simulator on ln until ctx ends, then drains and closes it.
func serve(ctx context.Context, log *slog.Logger, cfg config, ln net.Listener) error {
	sim, err := vneidsim.New(vneidsim.Config{
		Issuer:       cfg.Issuer,
		RelyingParty: cfg.RelyingParty,
		ClientKey:    cfg.ClientKey,
		Dir:          cfg.Dir,
		TTL:          cfg.TTL,
		Logger:       log,
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer sim.Close()
	log.InfoContext(ctx, "vneid-sim starting",
		"addr", ln.Addr().String(), "dir", cfg.Dir, "issuer", cfg.Issuer, "relying_party", cfg.RelyingParty,
		"ttl", cfg.TTL.String(), "client_key", mask(cfg.ClientKey), "signing_kid", sim.SigningKID())

	errc := make(chan error, 1)
	go func() { errc <- sim.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("vneid-sim shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := sim.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := sim.Close(); err != nil {
		return fmt.Errorf("close state: %w", err)
	}
	log.Info("vneid-sim stopped")
	return nil
}

func mask(secret string) string { return fmt.Sprintf("***(%d chars)", len(secret)) }
