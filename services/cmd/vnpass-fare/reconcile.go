package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/payhttp"
	"github.com/vnpass/vnpass/services/settlepg"
)

// reconcile prints a local day's clearing report per operator and its
// reconciliation (taps, journeys, ledger, payment providers' reports), and
// fails when anything does not match.
func reconcile(ctx context.Context, args []string, cfg Config, out io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(out)
	dayFlag := fs.String("day", "", "local day, YYYY-MM-DD (default today)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	day := time.Now().In(fare.Zone)
	if *dayFlag != "" {
		d, err := time.ParseInLocation(time.DateOnly, *dayFlag, fare.Zone)
		if err != nil {
			return fmt.Errorf("%w: -day %q: want YYYY-MM-DD", errUsage, *dayFlag)
		}
		day = d
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, err := settlepg.Open(ctx, cfg.PostgresURL, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	clearing, err := st.Clearing(ctx, day)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "clearing %s (đối soát doanh thu theo nhà vận hành / revenue per operator)\n", day.Format(time.DateOnly))
	for _, c := range clearing {
		mark := "= ledger"
		if !c.Balanced() {
			mark = "≠ ledger " + money.Format(c.Ledger)
		}
		fmt.Fprintf(out, "  %-16s %5d journeys  fares %s  corrections %s  refunds %s  passes %s  parking %s  total %s %s\n",
			c.Operator, c.Journeys, money.Format(c.Fares), money.Format(c.Corrections), money.Format(c.Refunds),
			money.Format(c.Passes), money.Format(c.Parking), money.Format(c.Total), mark)
	}
	var reports map[string][]settlepg.ProviderSettlement
	if cfg.PayURL != "" {
		p, err := payhttp.New(payhttp.Config{BaseURL: cfg.PayURL, ClientKey: cfg.PayClientKey, Name: cfg.PayProvider, Timeout: cfg.PayTimeout})
		if err != nil {
			return err
		}
		if reports, err = fetchReports(ctx, p, day); err != nil {
			return fmt.Errorf("%s settlement report: %w", cfg.PayProvider, err)
		}
	}
	r, err := st.Reconcile(ctx, day, reports)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "reconciliation %s\n", r.Day)
	fmt.Fprintf(out, "  taps %d recorded: %d entries and %d exits accepted\n", r.TapsRecorded, r.EntriesOpened, r.ExitsOpened)
	fmt.Fprintf(out, "  journeys %d priced (%d closed by an exit), %d paid, %d fare postings, fares %s\n",
		r.JourneysPriced, r.JourneysClosed, r.JourneysPaid, r.FarePostings, money.Format(r.Fares))
	for name, n := range r.Providers {
		fmt.Fprintf(out, "  provider %s: %d debits match the ledger\n", name, n)
	}
	for name, n := range r.Unreported {
		fmt.Fprintf(out, "  provider %s: %d movements not checked (no settlement report)\n", name, n)
	}
	for _, d := range r.Differences {
		fmt.Fprintf(out, "  DIFFERENCE %s\n", d)
	}
	bad := !r.OK()
	for _, c := range clearing {
		bad = bad || !c.Balanced()
	}
	if bad {
		return fmt.Errorf("%d differences", len(r.Differences))
	}
	fmt.Fprintln(out, "  khớp / reconciled")
	return nil
}
