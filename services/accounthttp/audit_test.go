package accounthttp_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/vnpass/vnpass/services/authjwt"
	"github.com/vnpass/vnpass/services/settlepg"
)

// TestStaffReadsAreAudited: an admin's read of a rider's account needs a
// purpose and leaves an audit entry with who, what, whose and why; a
// rider's read of its own account leaves none; the audit log is admins'
// only, its reads are audited too, and the table refuses UPDATE, DELETE
// and TRUNCATE.
func TestStaffReadsAreAudited(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	admin := a.token("ops-7", authjwt.RoleAdmin)
	a.do("POST", "/v1/accounts", admin, `{"subject":"vn_an"}`)

	count := func() int {
		es, err := a.store.AuditLog(ctx, settlepg.AuditFilter{Rider: "vn_an"})
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	before := count()

	a.reason = ""
	code, body, _ := a.do("GET", "/v1/accounts/vn_an", admin, "")
	if code != 400 || body["title"] != "reason-required" || !strings.Contains(fmt.Sprint(body["detail"]), "X-Access-Reason") ||
		!strings.Contains(fmt.Sprint(body["detail"]), "mục đích") {
		t.Errorf("a read without a purpose: %d %v, want 400 reason-required in Vietnamese and English", code, body)
	}
	a.reason = "ab"
	if code, _, _ := a.do("GET", "/v1/accounts/vn_an", admin, ""); code != 400 {
		t.Errorf("a two-letter purpose: %d, want 400", code)
	}
	if n := count(); n != before {
		t.Errorf("refused reads were audited: %d entries, want %d", n, before)
	}

	// A purpose in Vietnamese, percent-encoded as a browser would send it.
	why := "Khiếu nại số 42 của hành khách"
	a.reason = url.QueryEscape(why)
	code, body, h := a.do("GET", "/v1/accounts/vn_an", admin, "")
	if code != 200 || body["subject"] != "vn_an" {
		t.Fatalf("admin read with a purpose: %d %v", code, body)
	}
	es, err := a.store.AuditLog(ctx, settlepg.AuditFilter{Rider: "vn_an", Limit: 1})
	if err != nil || len(es) != 1 {
		t.Fatalf("audit entries %v %v", es, err)
	}
	e := es[0]
	if e.Actor != "ops-7" || e.Role != "admin" || e.Action != "account.read" || e.Resource != "/v1/accounts/vn_an" ||
		e.Reason != why || e.RequestID == "" || e.RequestID != h.Get("X-Request-ID") {
		t.Errorf("audit entry %+v (request id header %q)", e, h.Get("X-Request-ID"))
	}

	// The rider's own read is not staff access.
	n := count()
	a.reason = ""
	if code, _, _ := a.do("GET", "/v1/accounts/vn_an", a.token("vn_an", authjwt.RoleRider), ""); code != 200 {
		t.Errorf("rider's own read: %d", code)
	}
	if count() != n {
		t.Error("a rider's read of its own account was audited as staff access")
	}

	// The audit log: admins only, with a purpose, and audited itself.
	a.reason = "quarterly access review"
	for _, tok := range []string{a.token("vn_an", authjwt.RoleRider), a.token("lan", authjwt.RoleOperator), a.scoped("lan", "hanoi-metro")} {
		if code, _, _ := a.do("GET", "/v1/audit?rider=vn_an", tok, ""); code != 403 {
			t.Errorf("non-admin reads the audit log: %d, want 403", code)
		}
	}
	code, body, _ = a.do("GET", "/v1/audit?rider=vn_an", admin, "")
	entries, _ := body["entries"].([]any)
	if code != 200 || len(entries) < 2 {
		t.Fatalf("audit log: %d %v", code, body)
	}
	if first, _ := entries[0].(map[string]any); first["action"] != "audit.read" || first["reason"] != "quarterly access review" {
		t.Errorf("the audit log's own read is not its newest entry: %v", entries[0])
	}
	a.reason = ""
	if code, _, _ := a.do("GET", "/v1/audit", admin, ""); code != 400 {
		t.Errorf("audit log read without a purpose: %d, want 400", code)
	}

	// Append-only, whatever code or person holds a connection.
	pool := a.store.Pool()
	for _, sql := range []string{
		`UPDATE audit_log SET reason = 'nothing to see' WHERE rider = 'vn_an'`,
		`DELETE FROM audit_log WHERE rider = 'vn_an'`,
		`TRUNCATE audit_log`,
	} {
		if _, err := pool.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", sql, err)
		}
	}
	if count() < 2 {
		t.Error("audit entries went missing")
	}
}
