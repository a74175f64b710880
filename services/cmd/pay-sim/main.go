// Command pay-sim runs the simulated payment provider (see services/paysim)
// for development and tests: banks and e-wallets that approve, decline and
// time out on demand.
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
	"syscall"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/paysim"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log); err != nil {
		log.Error("pay-sim failed", "err", err)
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
	Addr      string
	State     string
	Name      string
	ClientKey string
	AdminKey  string
	Balance   int64 // whole dong
	HangFor   time.Duration
}

// loadConfig reads flags, each defaulting to its environment variable.
func loadConfig(args []string, getenv func(string) string) (config, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("pay-sim", flag.ContinueOnError)
	var cfg config
	var balance, hangFor string
	fs.StringVar(&cfg.Addr, "addr", env("PAY_SIM_ADDR", "127.0.0.1:58092"), "listen address (PAY_SIM_ADDR)")
	fs.StringVar(&cfg.State, "state", env("PAY_SIM_STATE", ""), `JSON-lines state file, replayed at start; "" keeps state in memory (PAY_SIM_STATE)`)
	fs.StringVar(&cfg.Name, "name", env("PAY_SIM_NAME", paysim.DefaultName), "provider name in links and the ledger (PAY_SIM_NAME)")
	fs.StringVar(&cfg.ClientKey, "client-key", env("PAY_SIM_CLIENT_KEY", ""), "bearer key of the platform, required, 16+ characters (PAY_SIM_CLIENT_KEY)")
	fs.StringVar(&cfg.AdminKey, "admin-key", env("PAY_SIM_ADMIN_KEY", ""), `bearer key of /v1/admin; "" means the client key (PAY_SIM_ADMIN_KEY)`)
	fs.StringVar(&balance, "balance", env("PAY_SIM_BALANCE", paysim.DefaultBalance.String()), "balance of a new funding source, whole dong (PAY_SIM_BALANCE)")
	fs.StringVar(&hangFor, "hang-for", env("PAY_SIM_HANG_FOR", paysim.DefaultHangFor.String()), "how long a 'timeout' source holds a debit's answer (PAY_SIM_HANG_FOR)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	b, err := decimal.NewFromString(balance)
	if err != nil || !b.IsInteger() || !b.IsPositive() {
		return config{}, fmt.Errorf("balance %q: want a positive whole number of dong, e.g. 10000000", balance)
	}
	if cfg.Balance, err = money.ToDong(b); err != nil {
		return config{}, fmt.Errorf("balance %q: %w", balance, err)
	}
	if cfg.HangFor, err = time.ParseDuration(hangFor); err != nil || cfg.HangFor <= 0 {
		return config{}, fmt.Errorf("hang-for %q: want a positive duration, e.g. 2m", hangFor)
	}
	if cfg.ClientKey == "" {
		return config{}, errors.New("client key is required (-client-key or PAY_SIM_CLIENT_KEY)")
	}
	return cfg, nil
}

// serve runs the simulator on ln until ctx ends, then drains and closes it.
func serve(ctx context.Context, log *slog.Logger, cfg config, ln net.Listener) error {
	sim, err := paysim.New(paysim.Config{
		Name:           cfg.Name,
		ClientKey:      cfg.ClientKey,
		AdminKey:       cfg.AdminKey,
		StateFile:      cfg.State,
		DefaultBalance: money.Dong(cfg.Balance),
		HangFor:        cfg.HangFor,
		Logger:         log,
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer sim.Close()
	log.InfoContext(ctx, "pay-sim starting",
		"addr", ln.Addr().String(), "state", cfg.State, "name", cfg.Name, "client_key", mask(cfg.ClientKey),
		"admin_key", mask(cfg.AdminKey), "balance", money.Format(money.Dong(cfg.Balance)), "hang_for", cfg.HangFor.String())

	errc := make(chan error, 1)
	go func() { errc <- sim.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("pay-sim shutting down")
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
	log.Info("pay-sim stopped")
	return nil
}

func mask(secret string) string {
	if secret == "" {
		return ""
	}
	return fmt.Sprintf("***(%d chars)", len(secret))
}
