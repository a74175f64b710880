package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/vnpass/vnpass/services/exportch"
	"github.com/vnpass/vnpass/services/ridershipch"
	"github.com/vnpass/vnpass/services/settlepg"
)

// exporter is the People's Committees' exporter over the service's stores.
func (m *Main) exporter() *exportch.Exporter {
	return &exportch.Exporter{Conn: m.Sink.Conn(), Database: m.Sink.Database(), Ledger: m.Store}
}

// retainTaps drops the ClickHouse tap months older than the configured
// retention, at start and then daily; journeys and aggregates stay.
func (m *Main) retainTaps(ctx context.Context) {
	days := m.Config.TapRetentionDays
	if days <= 0 {
		return
	}
	if m.Config.CHCluster != "" {
		// exportch.PurgeTaps drops partitions of one server's taps table;
		// on a cluster they are taps_local on every shard (ON CLUSTER).
		m.Log.Warn("tap retention is not done on a ClickHouse cluster yet; drop old months of taps_local ON CLUSTER by hand",
			"retention_days", days, "cluster", m.Config.CHCluster)
		return
	}
	purge := func(ctx context.Context) (int, error) {
		res, err := exportch.PurgeTaps(ctx, m.Sink.Conn(), m.Sink.Database(), m.Config.Now().AddDate(0, 0, -days), false)
		return len(res.DroppedPartitions), err
	}
	if n, err := purge(ctx); err != nil {
		m.Log.Warn("tap retention failed", "err", err)
	} else if n > 0 {
		m.Log.Info("tap retention: dropped months of raw taps", "count", n)
	}
	m.every(ctx, 24*time.Hour, "tap retention: dropped months of raw taps", purge)
}

// exportCmd is `vnpass-fare export -city hanoi -from 2026-11-01 -to
// 2026-11-30 -out dir/`: every export of the city and period into dir, CSV
// (and Parquet with -format csv,parquet), with a progress bar on a terminal.
func exportCmd(ctx context.Context, args []string, cfg Config, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	city := fs.String("city", "", "hanoi or hcmc")
	fromS := fs.String("from", "", "first local date, YYYY-MM-DD")
	toS := fs.String("to", "", "last local date, YYYY-MM-DD (included)")
	out := fs.String("out", "", "folder to write the files into")
	k := fs.Int("k", 10, "suppress cells with fewer riders than this")
	formats := fs.String("format", "csv", "csv, parquet or csv,parquet")
	kinds := fs.String("kinds", "", "comma-separated exports (default all)")
	recipient := fs.String("recipient", "", "who receives the files (keys the pseudonyms; default committee:<city>)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	from, err1 := time.Parse(time.DateOnly, *fromS)
	to, err2 := time.Parse(time.DateOnly, *toS)
	if *city == "" || *out == "" || err1 != nil || err2 != nil {
		fmt.Fprintln(stderr, "usage: vnpass-fare export -city hanoi -from YYYY-MM-DD -to YYYY-MM-DD -out DIR [-k 10] [-format csv,parquet] [-recipient NAME]")
		return errUsage
	}
	if *recipient == "" {
		*recipient = "committee:" + *city
	}
	if err := os.MkdirAll(*out, 0o750); err != nil {
		return err
	}
	sink, err := ridershipch.Open(ctx, ridershipch.Config{Addr: cfg.CHAddr, User: cfg.CHUser, Password: cfg.CHPassword, Database: cfg.CHDatabase, Cluster: cfg.CHCluster})
	if err != nil {
		return err
	}
	defer sink.Close()
	store, err := settlepg.Open(ctx, cfg.PostgresURL, cfg.Now)
	if err != nil {
		return err
	}
	defer store.Close()
	e := &exportch.Exporter{Conn: sink.Conn(), Database: sink.Database(), Ledger: store, K: *k}
	req := exportch.Request{City: *city, From: from, To: to, Recipient: *recipient,
		RecipientKey: exportch.RecipientKey([]byte(cfg.PseudonymKey), *recipient)}
	list := exportch.Kinds
	if *kinds != "" {
		list = nil
		for _, s := range strings.Split(*kinds, ",") {
			kd, ok := exportch.ParseKind(s)
			if !ok {
				return fmt.Errorf("%w: unknown export %q", errUsage, s)
			}
			list = append(list, kd)
		}
	}
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	_, err = runExports(ctx, e, req, list, strings.Split(*formats, ","), *out, stderr, tty)
	return err
}

// runExports writes each kind in each format into dir and reports progress
// on w: a bar redrawn in place on a terminal, plain lines otherwise.
func runExports(ctx context.Context, e *exportch.Exporter, req exportch.Request, kinds []exportch.Kind, formats []string, dir string, w io.Writer, tty bool) ([]exportch.Summary, error) {
	var sums []exportch.Summary
	prefix := req.City + "_" + req.From.Format("20060102") + "_" + req.To.Format("20060102") + "_"
	for _, kind := range kinds {
		for _, f := range formats {
			format := exportch.Format(f)
			path := filepath.Join(dir, prefix+string(kind)+"."+f)
			file, err := os.Create(path + ".part")
			if err != nil {
				return sums, err
			}
			tw, err := exportch.NewWriter(format, file)
			if err != nil {
				file.Close()
				os.Remove(path + ".part")
				return sums, errors.Join(errUsage, err)
			}
			start := time.Now()
			bar := progressBar(w, string(kind)+"."+f, tty)
			s, err := e.Export(ctx, kind, req, tw, bar)
			if cerr := file.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(path + ".part")
				fmt.Fprintln(w)
				return sums, err
			}
			if err := os.Rename(path+".part", path); err != nil {
				return sums, err
			}
			if tty {
				fmt.Fprint(w, "\r\033[K")
			}
			fmt.Fprintf(w, "%s: %d rows, %d suppressed cells, %s\n", path, s.Rows, s.SuppressedCells, time.Since(start).Round(time.Millisecond))
			sums = append(sums, s)
		}
	}
	return sums, nil
}

// progressBar draws "name [=====>    ] 45% 1234/2740" in place on a
// terminal; elsewhere a plain line at most every two seconds.
func progressBar(w io.Writer, name string, tty bool) exportch.Progress {
	var last time.Time
	return func(done, total int64) {
		now := time.Now()
		if now.Sub(last) < 200*time.Millisecond && done != total {
			return
		}
		if !tty {
			if now.Sub(last) < 2*time.Second {
				return
			}
			last = now
			if total > 0 {
				fmt.Fprintf(w, "%s: %d/%d rows (%d%%)\n", name, done, total, done*100/total)
			} else {
				fmt.Fprintf(w, "%s: %d rows\n", name, done)
			}
			return
		}
		last = now
		if total <= 0 {
			fmt.Fprintf(w, "\r\033[K%s %d rows", name, done)
			return
		}
		const width = 30
		n := int(done * width / total)
		if n > width {
			n = width
		}
		bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
		fmt.Fprintf(w, "\r\033[K%s [%s] %3d%% %d/%d", name, bar, done*100/total, done, total)
	}
}
