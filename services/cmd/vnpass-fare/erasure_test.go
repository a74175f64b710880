package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/settlepg"
)

// TestErasureOnRequest: a rider who travelled, disputed a fare and had
// their data read by an operator asks for erasure. It is refused while
// money is owed either way or a dispute is open; then everything the law
// does not keep is deleted and what it keeps (ledger, journeys, the
// dispute's amounts, the audit trail) is kept under a random tombstone: no
// row of any PostgreSQL table nor of any ClickHouse table holds the
// rider's subject or pseudonym, the books still balance, the day's clearing
// is unchanged, the erasure is in the audit log, and another rider is
// untouched.
func TestErasureOnRequest(t *testing.T) {
	p, logs := startLoggedPlatform(t)
	ctx := context.Background()
	subA, faceA := p.rider("001090066666")
	subB, faceB := p.rider("001090077777")
	pseudo, err := ridership.NewPseudonymizer([]byte(p.cfg.PseudonymKey))
	if err != nil {
		t.Fatal(err)
	}
	keyA, keyB := pseudo.Key(subA), pseudo.Key(subB)

	in := p.rawGate("hn2a-cat-linh", "hn2a-cat-linh-in01")
	out := p.rawGate("hn2a-ha-dong", "hn2a-ha-dong-out01")
	for _, face := range []string{faceA, faceB} {
		wantReason(t, "entry", in.send(proto.KindMetroEntry, p.assertion(face, in.dev)), proto.ReasonOK)
		wantReason(t, "exit", out.send(proto.KindMetroExit, p.assertion(face, out.dev)), proto.ReasonOK)
	}
	var journeyA int64
	if err := p.main.Store.Pool().QueryRow(ctx, `SELECT id FROM journeys WHERE subject = $1`, subA).Scan(&journeyA); err != nil {
		t.Fatal(err)
	}
	riderA, _ := p.main.Auth.Issue(subA, authjwt.RoleRider, time.Hour)
	op, _ := p.main.Auth.IssueFor("lan", authjwt.RoleOperator, "hanoi-metro", time.Hour)
	admin := p.token
	st, d := p.call("POST", "/v1/me/disputes", riderA, map[string]any{"kind": "journey", "charge_id": journeyA,
		"reason": "Tôi là Lê Thị Hoa, thẻ 001090066666, tôi chỉ đi hai ga"})
	if st != 201 {
		t.Fatalf("dispute: %d %v", st, d)
	}
	disputeID := int64(d["id"].(float64))

	// Refused while the dispute is open and the balance not paid out.
	st, body := p.call("POST", "/v1/me/erasure", riderA, map[string]any{})
	if reasons := fmt.Sprint(body["blocked_by"]); st != 409 || !strings.Contains(reasons, "dispute") || !strings.Contains(reasons, "balance") {
		t.Fatalf("erasure with an open dispute and a balance: %d %v", st, body)
	}
	if st, _ := p.call("POST", "/v1/accounts/"+subA+"/erasure", op, map[string]any{"reason": "rider's request"}); st != 403 {
		t.Errorf("an operator erased an account: %d", st)
	}
	if st, body := p.call("POST", "/v1/accounts/"+subA+"/erasure", admin, map[string]any{}); st != 400 || body["title"] != "reason-required" {
		t.Errorf("an admin's erasure without a reason: %d %v", st, body)
	}

	// The operator reads the dispute (audited under A) and rejects it; the
	// balance is paid out to the rider's bank (a pay-out posting).
	if st := staffCall(t, p, "GET", fmt.Sprintf("/v1/disputes/%d", disputeID), op, ""); st != 400 {
		t.Errorf("a staff read without X-Access-Reason: %d, want 400", st)
	}
	reasoned := staffCall(t, p, "GET", fmt.Sprintf("/v1/disputes/%d", disputeID), op, "khiếu nại của hành khách")
	if reasoned != 200 {
		t.Fatalf("operator reads the dispute: %d", reasoned)
	}
	if st, body := p.call("POST", fmt.Sprintf("/v1/disputes/%d/resolution", disputeID), op,
		map[string]any{"outcome": "reject", "reason": "Giá vé Cát Linh → Hà Đông là giá niêm yết"}); st != 200 {
		t.Fatalf("reject: %d %v", st, body)
	}
	acct, err := p.main.Store.Account(ctx, ledger.Rider(subA))
	if err != nil {
		t.Fatal(err)
	}
	payout, err := ledger.Transfer("payout:"+subA+":1", "payout", "balance paid out to the rider's bank", ledger.Rider(subA),
		ledger.ProviderSettlement("sim"), acct.Balance)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.main.Store.Post(ctx, payout); err != nil {
		t.Fatal(err)
	}

	// Analytics hold both riders before.
	chCount := func(key string) uint64 {
		t.Helper()
		var n uint64
		for _, tbl := range []string{"taps", "journeys"} {
			var c uint64
			if err := p.main.Sink.Conn().QueryRow(ctx, "SELECT count() FROM "+p.main.Sink.Database()+"."+tbl+" WHERE rider_key = '"+key+"'").Scan(&c); err != nil {
				t.Fatal(err)
			}
			n += c
		}
		return n
	}
	waitFor(t, 15*time.Second, "both riders' taps and journeys in ClickHouse", func() (bool, string) {
		a, b := chCount(keyA), chCount(keyB)
		return a == 3 && b == 3, fmt.Sprintf("A %d, B %d rows", a, b)
	})
	day := time.Now().In(fare.Zone)
	clearing := func() string {
		t.Helper()
		rows, err := p.main.Store.Clearing(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rows)
		return string(b)
	}
	clearingBefore := clearing()
	bBefore, err := p.main.Store.Account(ctx, ledger.Rider(subB))
	if err != nil {
		t.Fatal(err)
	}

	// Rider A's history with a partner (a consent given and withdrawn, the
	// partner API's calls): append-only, and erased all the same.
	if _, err := p.main.Store.Pool().Exec(ctx, `INSERT INTO consent_events (at, partner_id, subject, action, scopes)
		VALUES (now(), 'vnr', $1, 'grant', '{tickets}'), (now(), 'vnr', $1, 'withdraw', '{tickets}')`, subA); err != nil {
		t.Fatal(err)
	}
	if _, err := p.main.Store.Pool().Exec(ctx, `INSERT INTO partner_audit (at, actor_kind, actor, method, route, subject, status, outcome)
		VALUES (now(), 'rider', $1, 'GET', '/partner/v1/me/consents', $1, 200, 'ok')`, subA); err != nil {
		t.Fatal(err)
	}
	if _, err := p.main.Store.Pool().Exec(ctx, `UPDATE partner_audit SET outcome = 'edited' WHERE subject = $1`, subA); err == nil {
		t.Error("partner_audit accepted an edit outside an erasure")
	}

	// The rider asks.
	st, body = p.call("POST", "/v1/me/erasure", riderA, map[string]any{"reason": "Tôi không dùng vnpass nữa"})
	tomb, _ := body["tombstone"].(string)
	if st != 200 || body["erased"] != true || !strings.HasPrefix(tomb, "erased-") {
		t.Fatalf("erasure: %d %v\n%s", st, body, logs)
	}

	// PostgreSQL: no column of any row of any table holds the subject.
	for _, hit := range pgScan(t, p, subA, "001090066666", "Lê Thị Hoa") {
		t.Errorf("after erasure, PostgreSQL still holds rider A: %s", hit)
	}
	if hits := pgScan(t, p, subB); len(hits) == 0 {
		t.Error("the scan finds nothing of rider B either: it proves nothing")
	}
	// ClickHouse: no row of any table holds the pseudonym; B's rows stay.
	for _, hit := range chScan(t, p, keyA) {
		t.Errorf("after erasure, ClickHouse still holds rider A's pseudonym: %s", hit)
	}
	if n := chCount(keyB); n != 3 {
		t.Errorf("rider B's analytics rows: %d, want 3", n)
	}

	// What accounting keeps is kept: the books balance, the day's clearing
	// is the same, the journey and its ledger are there under the tombstone.
	books, err := p.main.Store.Books(ctx)
	if err != nil || !books.Balanced() {
		t.Errorf("books after erasure: %+v %v", books, err)
	}
	if after := clearing(); after != clearingBefore {
		t.Errorf("clearing changed:\n before %s\n after  %s", clearingBefore, after)
	}
	var kept int
	var fares string
	if err := p.main.Store.Pool().QueryRow(ctx, `SELECT count(*), coalesce(sum(e.amount), 0)::text FROM ledger_entries e WHERE e.account_id = 'rider:' || $1`,
		tomb).Scan(&kept, &fares); err != nil || kept < 3 || fares != "0" {
		t.Errorf("the tombstone's ledger: %d entries summing %s (%v), want the top-up, fare and pay-out summing 0", kept, fares, err)
	}
	if b, _ := p.main.Store.Account(ctx, ledger.Rider(subB)); !b.Balance.Equal(bBefore.Balance) {
		t.Errorf("rider B's balance moved: %s -> %s", money.Format(bBefore.Balance), money.Format(b.Balance))
	}

	// The audit trail: the operator's read now names the tombstone, and the
	// erasure itself is there.
	es, err := p.main.Store.AuditLog(ctx, settlepg.AuditFilter{Rider: tomb})
	if err != nil {
		t.Fatal(err)
	}
	var sawRead, sawErase bool
	for _, e := range es {
		sawRead = sawRead || (e.Action == "dispute.read" && e.Actor == "lan" && e.Reason == "khiếu nại của hành khách")
		sawErase = sawErase || (e.Action == "account.erase" && e.Role == "rider" && e.Reason == "Tôi không dùng vnpass nữa")
	}
	if !sawRead || !sawErase {
		t.Errorf("audit under the tombstone (read %v, erase %v): %+v", sawRead, sawErase, es)
	}

	// The subject opens nothing any more: no account, and the gate refuses.
	if st, _ := p.call("GET", "/v1/me", riderA, nil); st != 404 {
		t.Errorf("the erased rider's /v1/me: %d, want 404", st)
	}
	if dec := in.send(proto.KindMetroEntry, p.assertion(faceA, in.dev)); dec.Open {
		t.Errorf("the erased rider was let in: %+v", dec)
	}
	if st, _ := p.call("POST", "/v1/me/erasure", riderA, map[string]any{}); st != 404 {
		t.Errorf("a second erasure: %d, want 404", st)
	}
	// Rider B still rides.
	wantReason(t, "B after A's erasure", in.send(proto.KindMetroEntry, p.assertion(faceB, in.dev)), proto.ReasonOK)
}

// staffCall sends a request with X-Access-Reason and returns the status.
func staffCall(t *testing.T, p *platform, method, path, tok, reason string) int {
	t.Helper()
	req, _ := http.NewRequest(method, p.apiURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if reason != "" {
		req.Header.Set("X-Access-Reason", url.QueryEscape(reason))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// pgScan lists "table.column (n rows)" for every text, bytea or json column
// of every table of the database holding any of needles.
func pgScan(t *testing.T, p *platform, needles ...string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := p.main.Store.Pool().Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'bytea', 'jsonb', 'json', 'ARRAY')
		ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, column, kind string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column, &c.kind); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) < 20 {
		t.Fatalf("only %d columns to scan", len(cols))
	}
	var hits []string
	for _, c := range cols {
		cond := fmt.Sprintf("strpos(%q::text, $1) > 0", c.column)
		if c.kind == "bytea" {
			cond = fmt.Sprintf("position(convert_to($1, 'UTF8') in %q) > 0", c.column)
		}
		for _, n := range needles {
			var k int
			q := fmt.Sprintf("SELECT count(*) FROM %q WHERE %s", c.table, cond)
			if err := p.main.Store.Pool().QueryRow(ctx, q, n).Scan(&k); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if k > 0 {
				hits = append(hits, fmt.Sprintf("%s.%s (%d rows)", c.table, c.column, k))
			}
		}
	}
	return hits
}

// chScan lists "table.column (n rows)" for every String column of every
// table of the ClickHouse database holding needle.
func chScan(t *testing.T, p *platform, needle string) []string {
	t.Helper()
	ctx := context.Background()
	conn, db := p.main.Sink.Conn(), p.main.Sink.Database()
	rows, err := conn.Query(ctx, "SELECT table, name FROM system.columns WHERE database = '"+db+"' AND type = 'String'")
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, column string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.column); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) < 10 {
		t.Fatalf("only %d ClickHouse columns to scan", len(cols))
	}
	var hits []string
	for _, c := range cols {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+"."+c.table+" WHERE position("+c.column+", '"+needle+"') > 0").Scan(&n); err != nil {
			t.Fatalf("%s.%s: %v", c.table, c.column, err)
		}
		if n > 0 {
			hits = append(hits, fmt.Sprintf("%s.%s (%d rows)", c.table, c.column, n))
		}
	}
	return hits
}
