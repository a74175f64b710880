package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/exportch"
	"github.com/vnpass/vnpass/services/ridershipch"
)

// TestCommitteeExports seeds a day through the real service (taps over
// MQTT, settled in PostgreSQL, exported to ClickHouse) and proves the
// exports: station counts = accepted taps in PostgreSQL, OD journeys =
// journeys, revenue = the ledger; cells under k are suppressed; pseudonyms
// differ per recipient and are never subjects; the HTTP download streams
// and refuses other roles and cities; the CLI writes the files.
func TestCommitteeExports(t *testing.T) {
	p := startPlatform(t)
	ctx := context.Background()
	faces := p.fundedRiders(15)
	in := p.rawGate("hn2a-cat-linh", exportGateID("hn2a-cat-linh-in"))
	out := p.rawGate("hn2a-ha-dong", exportGateID("hn2a-ha-dong-out"))
	in2 := p.rawGate("hn2a-lang", exportGateID("hn2a-lang-in"))
	out2 := p.rawGate("hn2a-thai-ha", exportGateID("hn2a-thai-ha-out"))
	for i, f := range faces {
		a, b := in, out
		if i >= 12 { // three riders on another pair: a cell under k = 10
			a, b = in2, out2
		}
		wantReason(t, "entry", a.send(proto.KindMetroEntry, p.assertion(f, a.dev)), proto.ReasonOK)
		wantReason(t, "exit", b.send(proto.KindMetroExit, p.assertion(f, b.dev)), proto.ReasonOK)
	}
	pool := p.main.Store.Pool()
	var pgTaps, pgJourneys int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM taps WHERE open AND kind IN ('metro_entry', 'metro_exit', 'rail_gate')").Scan(&pgTaps); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM journeys WHERE exit_at IS NOT NULL").Scan(&pgJourneys); err != nil {
		t.Fatal(err)
	}
	if pgTaps != 30 || pgJourneys != 15 {
		t.Fatalf("seeded %d taps, %d journeys; want 30, 15", pgTaps, pgJourneys)
	}
	waitFor(t, 20*time.Second, "ClickHouse to hold the day", func() (bool, string) {
		c, err := p.main.Sink.Count(ctx)
		return err == nil && c.Taps == 30 && c.Journeys == 15, fmt.Sprintf("%+v %v", c, err)
	})
	now := time.Now().In(fare.Zone)
	from, to := now.AddDate(0, 0, -1), now.AddDate(0, 0, 1) // a run across local midnight stays inside
	var ledgerTotal decimal.Decimal
	if err := pool.QueryRow(ctx, `SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
		WHERE e.account_id = 'operator:hanoi-metro:revenue'`).Scan(&ledgerTotal); err != nil {
		t.Fatal(err)
	}
	if !ledgerTotal.IsPositive() {
		t.Fatalf("no revenue in the ledger: %s", ledgerTotal)
	}

	e := p.main.exporter()
	req := exportch.Request{City: "hanoi", From: from, To: to, Recipient: "r", RecipientKey: exportch.RecipientKey([]byte("m"), "r"), K: 1}
	get := func(kind exportch.Kind, req exportch.Request) ([][]string, exportch.Summary) {
		var b bytes.Buffer
		w, _ := exportch.NewWriter(exportch.CSV, &b)
		s, err := e.Export(ctx, kind, req, w, nil)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		recs, err := csv.NewReader(&b).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs, s
	}
	// k = 1: everything published, totals equal the raw taps and the ledger.
	sh, s := get(exportch.StationHours, req)
	if s.Taps != pgTaps || exportSumInt(t, sh, "entries")+exportSumInt(t, sh, "exits") != pgTaps {
		t.Errorf("station_hours publish %d taps (%d in the file), PostgreSQL has %d", s.Taps, exportSumInt(t, sh, "entries")+exportSumInt(t, sh, "exits"), pgTaps)
	}
	sa, _ := get(exportch.StationActivities, req)
	if exportSumInt(t, sa, "total_entries") != 15 || exportSumInt(t, sa, "total_exits") != 15 {
		t.Errorf("station_activities: %v", sa)
	}
	od, s := get(exportch.ODDaily, req)
	if s.Journeys != pgJourneys || exportSumInt(t, od, "journeys") != pgJourneys {
		t.Errorf("od_daily: %d journeys, want %d: %v", s.Journeys, pgJourneys, od)
	}
	odh, _ := get(exportch.ODHourly, req)
	if exportSumInt(t, odh, "journeys") != pgJourneys || exportSumInt(t, odh, "fares_vnd") != exportSumInt(t, od, "fares_vnd") {
		t.Errorf("od_hourly: %v", odh)
	}
	rev, s := get(exportch.Revenue, req)
	if len(rev) != 2 || rev[1][0] != "hanoi-metro" || !s.Revenue.Equal(ledgerTotal) || !s.LedgerRevenue.Equal(ledgerTotal) ||
		exportSumInt(t, rev, "total_vnd") != ledgerTotal.IntPart() || exportSumInt(t, od, "fares_vnd") != ledgerTotal.IntPart() {
		t.Errorf("revenue %v (summary %s / %s), ledger %s, OD fares %d", rev, s.Revenue, s.LedgerRevenue, ledgerTotal, exportSumInt(t, od, "fares_vnd"))
	}
	ft, s := get(exportch.FareTransactions, req)
	if s.Rows != 30 || s.WithheldTaps != 0 {
		t.Errorf("fare_transactions: %d rows, %d withheld", s.Rows, s.WithheldTaps)
	}

	// k = 10: the three riders' cells are suppressed and their taps withheld.
	req.K = 10
	sh, s = get(exportch.StationHours, req)
	if s.Taps != 24 || s.SuppressedCells < 2 || exportSumInt(t, sh, "entries")+exportSumInt(t, sh, "exits") != 24 {
		t.Errorf("k=10 station_hours: %+v %v", s, sh)
	}
	for _, r := range sh[1:] {
		if (r[2] == "hn2a-lang" || r[2] == "hn2a-thai-ha") && (r[3] != "" || r[6] != "" || r[7] != "1") {
			t.Errorf("cell of 3 riders published: %v", r)
		}
	}
	od, s = get(exportch.ODDaily, req)
	if s.Journeys != 12 || s.SuppressedCells != 1 {
		t.Errorf("k=10 od_daily: %+v %v", s, od)
	}
	ft10, s := get(exportch.FareTransactions, req)
	if s.Rows != 24 || s.WithheldTaps != 6 {
		t.Errorf("k=10 fare_transactions: %d rows, %d withheld", s.Rows, s.WithheldTaps)
	}
	// Pseudonyms: per recipient, never a subject nor the analytics key.
	forbidden := map[string]bool{}
	rows, err := pool.Query(ctx, "SELECT DISTINCT subject FROM taps WHERE subject IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		forbidden[s] = true
	}
	rows.Close()
	chRows, err := p.main.Sink.Conn().Query(ctx, "SELECT DISTINCT rider_key FROM "+p.main.Sink.Database()+".taps")
	if err != nil {
		t.Fatal(err)
	}
	for chRows.Next() {
		var s string
		chRows.Scan(&s)
		forbidden[s] = true
	}
	chRows.Close()
	if len(forbidden) != 30 {
		t.Fatalf("%d subjects and rider keys, want 30", len(forbidden))
	}
	req2 := req
	req2.Recipient, req2.RecipientKey = "other", exportch.RecipientKey([]byte("m"), "other")
	ft2, _ := get(exportch.FareTransactions, req2)
	tokens := func(recs [][]string) map[string]bool {
		m := map[string]bool{}
		col := exportCol(t, recs, "token_id")
		for _, r := range recs[1:] {
			line := strings.Join(r, ",")
			for f := range forbidden {
				if strings.Contains(line, f) {
					t.Errorf("subject or rider key %s in fare_transactions: %v", f, r)
				}
			}
			m[r[col]] = true
		}
		return m
	}
	a, b := tokens(ft10), tokens(ft2)
	if len(a) != 12 || len(b) != 12 || len(tokens(ft)) != 15 {
		t.Errorf("distinct tokens %d, %d; want 12 each", len(a), len(b))
	}
	for k := range a {
		if b[k] {
			t.Errorf("token %s is the same for two recipients", k)
		}
	}

	// HTTP: admins and the city's committee download, streamed; others are refused.
	admin := p.token
	hanoi, _ := p.main.Auth.IssueCommittee("ubnd-hanoi", "hanoi", time.Hour)
	hcmc, _ := p.main.Auth.IssueCommittee("ubnd-hcmc", "hcmc", time.Hour)
	op, _ := p.main.Auth.Issue("nguyen.lan", authjwt.RoleOperator, time.Hour)
	rider, _ := p.main.Auth.Issue("someone", authjwt.RoleRider, time.Hour)
	q := "?city=hanoi&from=" + from.Format(time.DateOnly) + "&to=" + to.Format(time.DateOnly)
	download := func(path, tok string) (*http.Response, []byte) {
		r, _ := http.NewRequest("GET", p.apiURL+path, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	for _, c := range []struct {
		name, path, tok string
		status          int
	}{
		{"admin", "/v1/exports/station_hours.csv" + q, admin, 200},
		{"hanoi committee", "/v1/exports/fare_transactions.csv" + q, hanoi, 200},
		{"hanoi committee, parquet", "/v1/exports/od_daily.parquet" + q, hanoi, 200},
		{"hcmc committee on hanoi", "/v1/exports/station_hours.csv" + q, hcmc, 403},
		{"operator", "/v1/exports/station_hours.csv" + q, op, 403},
		{"rider", "/v1/exports/station_hours.csv" + q, rider, 403},
		{"committee elsewhere", "/v1/accounts/someone", hanoi, 403},
		{"committee lowering k", "/v1/exports/station_hours.csv" + q + "&k=2", hanoi, 400},
		{"unknown export", "/v1/exports/subjects.csv" + q, admin, 404},
		{"no token", "/v1/exports/station_hours.csv" + q, "", 401},
	} {
		resp, body := download(c.path, c.tok)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.status)
			continue
		}
		if c.status != 200 {
			continue
		}
		if resp.ContentLength != -1 || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
			t.Errorf("%s: not streamed (length %d, encoding %v)", c.name, resp.ContentLength, resp.TransferEncoding)
		}
		if strings.HasSuffix(strings.Split(c.path, "?")[0], ".csv") {
			recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
			if err != nil || len(recs) < 2 {
				t.Errorf("%s: %d records, %v", c.name, len(recs), err)
			}
			if c.name == "hanoi committee" {
				for k := range tokens(recs) {
					if a[k] || b[k] {
						t.Errorf("the committee's pseudonym %s is another recipient's", k)
					}
				}
			}
		} else if !bytes.HasPrefix(body, []byte("PAR1")) {
			t.Errorf("%s: not Parquet: %q", c.name, body[:min(len(body), 16)])
		}
	}

	// The CLI's runner: every kind, CSV and Parquet, plain progress lines.
	dir := t.TempDir()
	var log bytes.Buffer
	sums, err := runExports(ctx, e, req, exportch.Kinds, []string{"csv", "parquet"}, dir, &log, false)
	if err != nil || len(sums) != 12 {
		t.Fatalf("runExports: %d files, %v\n%s", len(sums), err, log.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "hanoi_*"))
	if len(files) != 12 {
		t.Errorf("files %v", files)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "hanoi_"+from.Format("20060102")+"_"+to.Format("20060102")+"_revenue.csv")); err != nil || !strings.Contains(string(b), "hanoi-metro") {
		t.Errorf("revenue.csv: %q %v", b, err)
	}
}

var exportDevN int

func exportGateID(prefix string) string {
	exportDevN++
	return fmt.Sprintf("%s%02d", prefix, exportDevN)
}

func exportCol(t *testing.T, recs [][]string, name string) int {
	t.Helper()
	for i, h := range recs[0] {
		if h == name {
			return i
		}
	}
	t.Fatalf("no column %s in %v", name, recs[0])
	return -1
}

func exportSumInt(t *testing.T, recs [][]string, col string) int64 {
	t.Helper()
	i := exportCol(t, recs, col)
	var n int64
	for _, r := range recs[1:] {
		if r[i] == "" {
			continue
		}
		v, err := strconv.ParseInt(r[i], 10, 64)
		if err != nil {
			t.Fatalf("%s %q: %v", col, r[i], err)
		}
		n += v
	}
	return n
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	progressBar(&b, "od_daily.csv", true)(15, 30)
	if !strings.Contains(b.String(), "\r\033[Kod_daily.csv [===============               ]  50% 15/30") {
		t.Errorf("terminal bar %q", b.String())
	}
	b.Reset()
	progressBar(&b, "od_daily.csv", false)(15, 30)
	if b.String() != "od_daily.csv: 15/30 rows (50%)\n" {
		t.Errorf("plain progress %q", b.String())
	}
}

// TestTapRetention: VNPASS_TAP_RETENTION_DAYS is read and checked, and the
// service's job drops the months of raw taps older than it.
func TestTapRetention(t *testing.T) {
	env := map[string]string{
		"VNPASS_PG_URL": "postgres://x@127.0.0.1:1/x", "VNPASS_MQTT_URL": "tcp://127.0.0.1:1", "VNPASS_CH_ADDR": "127.0.0.1:2",
		"VNPASS_VNEID_ISSUER": "http://x", "VNPASS_VNEID_JWKS_URL": "http://x/jwks", "VNPASS_API_SECRET": strings.Repeat("a", 32),
		"VNPASS_PSEUDONYM_KEY": strings.Repeat("b", 32), "VNPASS_TAP_RETENTION_DAYS": "90",
	}
	if c, err := ConfigFromEnv(func(k string) string { return env[k] }); err != nil || c.TapRetentionDays != 90 {
		t.Fatalf("retention %d, %v", c.TapRetentionDays, err)
	}
	env["VNPASS_TAP_RETENTION_DAYS"] = "3"
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Error("a retention of 3 days was accepted")
	}
	ch := testenv.ClickHouseDB(t)
	sink, err := ridershipch.Open(context.Background(), ridershipch.Config{Addr: ch.Addr, User: ch.User, Password: ch.Password, Database: ch.Database})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	now := time.Date(2026, 11, 24, 5, 0, 0, 0, time.UTC)
	var taps []ridership.Tap
	for _, at := range []time.Time{now.AddDate(0, -5, 0), now.AddDate(0, -1, 0), now} {
		taps = append(taps, ridership.Tap{EventID: proto.NewEventID(at), Device: "d", Site: "hn2a-lang", Kind: "metro_entry",
			RiderKey: "k", CapturedAt: at, ReceivedAt: at, Open: true, Reason: "ok"})
	}
	if err := sink.WriteTaps(context.Background(), taps); err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: Config{TapRetentionDays: 90, Now: func() time.Time { return now }}, Sink: sink, Log: quietLog()}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	m.retainTaps(ctx)
	if c, err := sink.Count(context.Background()); err != nil || c.Taps != 2 {
		t.Errorf("after retention: %+v %v", c, err)
	}
}
