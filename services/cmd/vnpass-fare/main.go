// Command vnpass-fare is the fare service (subcommands: token, books, reconcile, quote, explain, export): it reads taps from MQTT (a member
// of a shared subscription), verifies the VNeID assertion, decides and
// settles each tap in PostgreSQL exactly once, answers the gate, exports
// taps and journeys to ClickHouse in batches, and serves the accounts API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vnpass/vnpass/services/authjwt"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "token" {
		if err := token(os.Args[2:], os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "vnpass-fare token:", err)
			os.Exit(2)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "books" {
		cfg, err := ConfigFromEnv(os.Getenv)
		if err == nil {
			err = books(ctx, cfg, os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vnpass-fare books:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "reconcile" {
		cfg, err := ConfigFromEnv(os.Getenv)
		if err == nil {
			err = reconcile(ctx, os.Args[2:], cfg, os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vnpass-fare reconcile:", err)
			if errors.Is(err, errUsage) {
				os.Exit(2)
			}
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "export" {
		cfg, err := ConfigFromEnv(os.Getenv)
		if err == nil {
			err = exportCmd(ctx, os.Args[2:], cfg, os.Stderr)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vnpass-fare export:", err)
			if errors.Is(err, errUsage) {
				os.Exit(2)
			}
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && (os.Args[1] == "quote" || os.Args[1] == "explain") {
		var err error
		if os.Args[1] == "quote" {
			err = quote(os.Args[2:], os.Getenv, time.Now(), os.Stdout)
		} else {
			err = explainJourney(ctx, os.Args[2:], os.Getenv, os.Stdout)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "vnpass-fare %s: %v\n", os.Args[1], err)
			if errors.Is(err, errUsage) {
				os.Exit(2)
			}
			os.Exit(1)
		}
		return
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(ctx, log); err != nil {
		log.Error("vnpass-fare stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log.Info("starting vnpass-fare", "config", cfg.String())
	if addr := os.Getenv("VNPASS_PPROF_ADDR"); addr != "" {
		// Profiles for performance work (net/http/pprof), on loopback only.
		if h, _, err := net.SplitHostPort(addr); err != nil || (h != "127.0.0.1" && h != "localhost" && h != "::1") {
			return fmt.Errorf("config: VNPASS_PPROF_ADDR %q: want a loopback host:port", addr)
		}
		go func() { log.Warn("pprof stopped", "err", http.ListenAndServe(addr, nil)) }()
	}
	m := &Main{Config: cfg, Log: log}
	if err := m.Open(ctx); err != nil {
		return err
	}
	log.Info("vnpass-fare ready", "api", m.APIAddr(), "taps", cfg.Topics.Shared(cfg.Group, "taps"))
	<-ctx.Done()
	log.Info("shutting down")
	return m.Close()
}

// token prints an API token signed with VNPASS_API_SECRET: how an operator
// console or the simulator gets its credentials in development.
func token(args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	role := fs.String("role", "admin", "admin, operator, rider or committee")
	sub := fs.String("sub", "console", "subject (a rider's VNeID subject for role rider)")
	ttl := fs.Duration("ttl", 8*time.Hour, "validity")
	operator := fs.String("operator", "", "operator id an operator's token is scoped to (hanoi-metro, hurc1, hn-parking, ...)")
	city := fs.String("city", "", "city a committee's token is scoped to (hanoi, hcmc; role committee)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	kc := Config{APISecret: getenv("VNPASS_API_SECRET"), APISecrets: getenv("VNPASS_API_SECRETS")}
	if err := kc.apiKeys(); err != nil {
		return err
	}
	is, err := authjwt.NewKeyring(kc.APIKeys, nil)
	if err != nil {
		return err
	}
	var t string
	if authjwt.Role(*role) == authjwt.RoleCommittee {
		t, err = is.IssueCommittee(*sub, *city, *ttl)
	} else {
		t, err = is.IssueFor(*sub, authjwt.Role(*role), *operator, *ttl)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, t)
	return err
}
