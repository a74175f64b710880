package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/services/ridershipch"
	"github.com/vnpass/vnpass/services/settlepg"
)

// books prints the state of the ledger and whether analytics holds every
// recorded tap: the numbers an operator checks after a day, or a newcomer
// after run.sh. It exits non-zero when they do not add up.
func books(ctx context.Context, cfg Config, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := settlepg.Open(ctx, cfg.PostgresURL, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := st.Books(ctx)
	if err != nil {
		return err
	}
	var taps, pending int64
	if err := st.Pool().QueryRow(ctx, "SELECT count(*) FROM taps").Scan(&taps); err != nil {
		return err
	}
	if pending, _, err = st.PendingExport(ctx); err != nil {
		return err
	}
	sink, err := ridershipch.Open(ctx, ridershipch.Config{Addr: cfg.CHAddr, User: cfg.CHUser, Password: cfg.CHPassword, Database: cfg.CHDatabase, Cluster: cfg.CHCluster})
	if err != nil {
		return err
	}
	defer sink.Close()
	c, err := sink.Count(ctx)
	if err != nil {
		return err
	}
	verdict := "cân / balanced"
	if !b.Balanced() {
		verdict = "LỆCH / OUT OF BALANCE"
	}
	fmt.Fprintf(out, "books of database %q (every run so far):\n", st.Pool().Config().ConnConfig.Database)
	fmt.Fprintf(out, "ledger      %d transactions, %d entries; debits %s = credits %s; %s\n",
		b.Transactions, b.Entries, money.Format(b.Debits), money.Format(b.Credits), verdict)
	fmt.Fprintf(out, "taps        %d recorded in PostgreSQL, %d in ClickHouse, %d waiting for export; %d journeys in ClickHouse\n",
		taps, c.Taps, pending, c.Journeys)
	if !b.Balanced() {
		return fmt.Errorf("ledger out of balance: %+v", b)
	}
	if int64(c.Taps)+pending != taps {
		return fmt.Errorf("ClickHouse holds %d taps, PostgreSQL %d with %d pending", c.Taps, taps, pending)
	}
	return nil
}
