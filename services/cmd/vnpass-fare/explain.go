package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/settlepg"
)

// errUsage marks a command line that cannot be run as given (exit code 2).
var errUsage = errors.New("usage")

// quote prints what a trip would cost and why, from the fare data alone
// (VNPASS_FARE_DATA, or the shipped feeds): the answer of
// GET /v1/fares/quote, for an operator at a terminal.
func quote(args []string, getenv func(string) string, now time.Time, out io.Writer) error {
	fs := flag.NewFlagSet("quote", flag.ContinueOnError)
	fs.SetOutput(out)
	from := fs.String("from", "", "entry stop_id, e.g. hn2a-cat-linh")
	to := fs.String("to", "", "exit stop_id, e.g. hn2a-yen-nghia")
	at := fs.String("at", "", "entry time, RFC 3339 (default now)")
	category := fs.String("category", "", "rider_category_id (default the network's default, adult)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *from == "" || *to == "" {
		return fmt.Errorf("%w: -from and -to are required", errUsage)
	}
	when := now
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fmt.Errorf("%w: -at %q: want an RFC 3339 time such as 2026-11-24T07:30:00+07:00", errUsage, *at)
		}
		when = t
	}
	fares, err := loadFares(getenv("VNPASS_FARE_DATA"))
	if err != nil {
		return fmt.Errorf("fare data: %w", err)
	}
	p, err := explain.Quote(fares, *from, *to, *category, when)
	var qe *explain.QueryError
	if errors.As(err, &qe) {
		value := map[string]string{"from": *from, "to": *to, "category": *category}[qe.Field]
		return fmt.Errorf("-%s %q: %w", qe.Field, value, qe.Err)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out, p)
	}
	w := &lineWriter{w: out}
	w.printf("%s → %s · %s · %s (%s) · %s\n", p.From.Name, p.To.Name, p.Category, p.Network, p.Operator, p.At)
	w.printf("Giá vé / Fare: %s\n", p.AmountText)
	if len(p.Legs) > 1 {
		for i, l := range p.Legs {
			w.printf("  chặng / leg %d: %s (%s) → %s (%s) %s (%s)\n", i+1, l.From.Name, l.From.StopID, l.To.Name, l.To.StopID, l.AmountText, l.Rule)
		}
	}
	w.printf("  %s\n  %s\n", p.Explanation.VI, p.Explanation.EN)
	return w.err
}

// explainJourney prints why a rider paid what they paid for a journey,
// from the settlement database (VNPASS_PG_URL): the answer of
// GET /v1/journeys/{id}/explanation, for an operator answering a rider.
func explainJourney(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(out)
	id := fs.Int64("journey", 0, "journey id")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *id <= 0 {
		return fmt.Errorf("%w: -journey must be a journey id", errUsage)
	}
	url := getenv("VNPASS_PG_URL")
	if url == "" {
		return fmt.Errorf("%w: VNPASS_PG_URL is not set", errUsage)
	}
	fares, err := loadFares(getenv("VNPASS_FARE_DATA"))
	if err != nil {
		return fmt.Errorf("fare data: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := settlepg.Open(ctx, url, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	j, err := st.Journey(ctx, *id)
	if err != nil {
		return err
	}
	ps, err := st.FarePostings(ctx, *id)
	if err != nil {
		return err
	}
	r := explain.Journey(fares, j, ps)
	if *asJSON {
		return printJSON(out, r)
	}
	w := &lineWriter{w: out}
	w.printf("Hành trình / Journey #%d · %s · %s · %s (%s)\n", r.JourneyID, r.Status, r.Category, r.Network, r.Operator)
	for _, end := range []struct {
		label string
		tap   *explain.Tap
	}{{"Vào / In: ", r.Entry}, {"Ra / Out: ", r.Exit}} {
		if end.tap == nil {
			w.printf("%s —\n", end.label)
			continue
		}
		w.printf("%s %s (%s) %s\n", end.label, end.tap.Name, end.tap.StopID, end.tap.At)
	}
	w.printf("Đã thu / Charged: %s (giá trước mức trần / before caps %s)\n", r.ChargedText, r.FullFareText)
	w.printf("\nVì sao:\n")
	for _, l := range r.Explanation.VI {
		w.printf("  %s\n", l)
	}
	w.printf("Why:\n")
	for _, l := range r.Explanation.EN {
		w.printf("  %s\n", l)
	}
	if len(r.Ledger) > 0 {
		w.printf("Sổ cái / Ledger:\n")
		for _, p := range r.Ledger {
			w.printf("  #%d %s %s %s %s\n", p.TransactionID, p.Kind, p.Key, money.Format(p.Amount), p.PostedAt)
		}
	}
	return w.err
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// lineWriter keeps the first write error, so that printing reads as a list.
type lineWriter struct {
	w   io.Writer
	err error
}

func (l *lineWriter) printf(format string, a ...any) {
	if l.err == nil {
		_, l.err = fmt.Fprintf(l.w, format, a...)
	}
}
