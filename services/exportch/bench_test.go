package exportch_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vnpass/vnpass/services/exportch"
)

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// TestExportMonthBenchmark is the manual benchmark of exporting a simulated
// month for Hanoi (README.md): VNPASS_EXPORT_BENCH_TAPS=30000000 go test
// -run ExportMonthBenchmark -v -timeout 60m ./services/exportch/. Taps (half
// entries, half exits, 24 stations, 700,000 riders, spread over November
// 2026) and one journey per exit are generated in ClickHouse with INSERT ...
// SELECT from numbers(); every export of the month is then written (files
// counted, not kept: fare_transactions alone is several GB).
func TestExportMonthBenchmark(t *testing.T) {
	n, _ := strconv.ParseInt(os.Getenv("VNPASS_EXPORT_BENCH_TAPS"), 10, 64)
	if n <= 0 {
		t.Skip("set VNPASS_EXPORT_BENCH_TAPS to run the month export benchmark")
	}
	s := open(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.FixedZone("ICT", 7*3600)).Unix()
	const month = 30 * 86400
	t0 := time.Now()
	rider := "hex(intHash64(intDiv(number, 2) % 700000))"
	q := fmt.Sprintf(`INSERT INTO %s.taps (event_id, device, site, kind, rider_key, captured_at, received_at, open, reason, fare)
		SELECT toString(number), concat('hn2a-s', toString(intDiv(number, 2) %% 24), '-g1'), concat('hn2a-s', toString((intDiv(number, 2) + (number %% 2) * 7) %% 24)),
			if(number %% 2 = 0, 'metro_entry', 'metro_exit'), %s,
			toDateTime(%d + intDiv(number * %d, %d)), toDateTime(%d + intDiv(number * %d, %d)),
			toUInt8(number %% 50 != 0), if(number %% 50 != 0, 'ok', 'insufficient_funds'),
			toDecimal64(if(number %% 2 = 1, 8000 + (number %% 8) * 1000, 0), 0)
		FROM numbers(%d)`, s.Database(), rider, start, month, n, start, month, n, n)
	if err := s.Conn().Exec(ctx, q); err != nil {
		t.Fatal(err)
	}
	q = fmt.Sprintf(`INSERT INTO %s.journeys (journey_id, rider_key, network_id, operator_id, entry_site, exit_site, entry_at, exit_at, status, category, fare_rule, fare)
		SELECT number, hex(intHash64(number %% 700000)), 'hn2a', 'hanoi-metro', concat('hn2a-s', toString(number %% 24)), concat('hn2a-s', toString((number + 1 + intDiv(number, 24) %% 23) %% 24)),
			toDateTime(%d + intDiv(number * %d, %d)), toDateTime(%d + intDiv(number * %d, %d) + 1200), 'closed', 'adult', 'r', toDecimal64(8000 + (number %% 8) * 1000, 0)
		FROM numbers(%d)`, s.Database(), start, month, n/2, start, month, n/2, n/2)
	if err := s.Conn().Exec(ctx, q); err != nil {
		t.Fatal(err)
	}
	t.Logf("generated %d taps and %d journeys in %s", n, n/2, time.Since(t0).Round(time.Second))
	e := &exportch.Exporter{Conn: s.Conn(), Database: s.Database()}
	req := exportch.Request{City: "hanoi", From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC),
		Recipient: "bench", RecipientKey: exportch.RecipientKey([]byte("bench-master-key"), "bench")}
	total := time.Now()
	for _, kind := range []exportch.Kind{exportch.StationHours, exportch.StationActivities, exportch.ODDaily, exportch.ODHourly, exportch.FareTransactions} {
		for _, f := range []exportch.Format{exportch.CSV, exportch.Parquet} {
			if kind == exportch.FareTransactions && f == exportch.Parquet && os.Getenv("VNPASS_EXPORT_BENCH_PARQUET_FT") == "" {
				continue
			}
			var cw countingWriter
			w, _ := exportch.NewWriter(f, io.Writer(&cw))
			t1 := time.Now()
			sum, err := e.Export(ctx, kind, req, w, nil)
			if err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
			el := time.Since(t1)
			t.Logf("%-18s %-7s %10d rows %12d bytes %8s (%.0f rows/s), %d suppressed, %d withheld",
				kind, f, sum.Rows, cw.n, el.Round(time.Millisecond), float64(sum.Rows)/el.Seconds(), sum.SuppressedCells, sum.WithheldTaps)
		}
	}
	t.Logf("all exports of the month: %s", time.Since(total).Round(time.Second))
}
