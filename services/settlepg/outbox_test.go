package settlepg_test

import (
	"context"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
	"github.com/vnpass/vnpass/services/settlepg"
)

func noPseudo(s string) string { return "p:" + s }

// eventually retries f for up to 30 s: the outbox holds back rows while
// any older write transaction runs anywhere on the server, and other tests'
// databases share this one.
func eventually(t *testing.T, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !f(); {
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exportAll drains the outbox the way ridership.Exporter does and returns
// the event ids in the order they came out.
func exportAll(t *testing.T, s *settlepg.Store) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for {
		taps, err := s.PendingTaps(ctx, 3, noPseudo)
		if err != nil {
			t.Fatal(err)
		}
		if len(taps) == 0 {
			return out
		}
		ids := make([]string, len(taps))
		for i, tp := range taps {
			ids[i] = tp.EventID
		}
		if err := s.MarkTapsExported(ctx, taps[len(taps)-1].Outbox); err != nil {
			t.Fatal(err)
		}
		out = append(out, ids...)
	}
}

// A tap whose transaction is still running when a later transaction's tap
// is exported must not be skipped by the cursor: the outbox holds back
// every row newer than the oldest running transaction.
func TestOutboxWaitsForRunningTransactions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.topUp("vn_alice", 100_000)
	f.do(proto.KindMetroEntry, catLinh, "vn_alice")
	f.do(proto.KindMetroExit, haDong, "vn_alice")
	var first []string
	eventually(t, func() bool { first = append(first, exportAll(t, f.store)...); return len(first) >= 2 })
	if len(first) != 2 {
		t.Fatalf("exported %d taps, want 2", len(first))
	}
	var js []ridership.Journey
	var err error
	eventually(t, func() bool { js, err = f.store.PendingJourneys(ctx, 10, noPseudo); return err != nil || len(js) > 0 })
	if err != nil || len(js) != 1 || js[0].RiderKey != "p:vn_alice" || js[0].Fare.IsZero() {
		t.Fatalf("journeys %+v, %v: want alice's one closed journey", js, err)
	}
	if err := f.store.MarkJourneysExported(ctx, js[0].Outbox); err != nil {
		t.Fatal(err)
	}

	// A transaction takes its id (it inserts a tap) and stays open.
	slow, err := f.store.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx)
	held := proto.NewEventID(f.now)
	if _, err := slow.Exec(ctx, `INSERT INTO taps (event_id, device, site, kind, captured_at, received_at, open, reason, decision)
		VALUES ($1, 'd', 's', 'entry', now(), now(), false, 'bad_assertion', '\x00')`, held); err != nil {
		t.Fatal(err)
	}
	// A later one commits while the first is still open.
	f.do(proto.KindMetroEntry, catLinh, "vn_bob") // refused (no account), recorded all the same
	if got := exportAll(t, f.store); len(got) != 0 {
		t.Fatalf("exported %v while an older transaction was running; it would be skipped", got)
	}
	if p, _, err := f.store.PendingExport(ctx); err != nil || p != 1 {
		t.Fatalf("pending %d (%v), want 1 (the committed tap)", p, err)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	eventually(t, func() bool { got = append(got, exportAll(t, f.store)...); return len(got) >= 2 })
	if len(got) != 2 || got[0] != held {
		t.Fatalf("exported %v after the commit, want the held tap %s first, then bob's", got, held)
	}
	if p, j, err := f.store.PendingExport(ctx); err != nil || p != 0 || j != 0 {
		t.Fatalf("pending %d taps %d journeys (%v), want none", p, j, err)
	}
	// Nothing twice.
	seen := map[string]bool{}
	for _, id := range append(first, got...) {
		if seen[id] {
			t.Fatalf("%s exported twice", id)
		}
		seen[id] = true
	}
}

// Replicas share one database: only one of them exports at a time, and
// another takes over when it goes.
func TestOneExporterLeads(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other, err := settlepg.Open(ctx, f.store.Pool().Config().ConnString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	f.topUp("vn_alice", 100_000)
	f.do(proto.KindMetroEntry, catLinh, "vn_alice")
	var a []ridership.Tap
	eventually(t, func() bool { a, err = f.store.PendingTaps(ctx, 10, noPseudo); return err != nil || len(a) > 0 })
	if err != nil || len(a) != 1 {
		t.Fatalf("leader read %d taps (%v), want 1", len(a), err)
	}
	b, err := other.PendingTaps(ctx, 10, noPseudo)
	if err != nil || len(b) != 0 {
		t.Fatalf("second replica read %d taps (%v) while the first leads, want 0", len(b), err)
	}
	f.store.Close()
	eventually(t, func() bool { b, err = other.PendingTaps(ctx, 10, noPseudo); return err != nil || len(b) > 0 })
	if err != nil || len(b) != 1 {
		t.Fatalf("second replica read %d taps (%v) after the leader closed, want 1", len(b), err)
	}
}

// Replicas on one database write operator balances in shard rows of their
// own, and a slot freed by a store that went is taken again.
func TestReplicasClaimTheirOwnShardSlots(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	url := f.store.Pool().Config().ConnString()
	b, err := settlepg.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.store.ShardSlot() == b.ShardSlot() {
		t.Fatalf("two stores on one database share shard slot %d", b.ShardSlot())
	}
	freed := b.ShardSlot()
	b.Close()
	var c *settlepg.Store
	eventually(t, func() bool {
		if c != nil {
			c.Close()
		}
		if c, err = settlepg.Open(ctx, url, nil); err != nil {
			t.Fatal(err)
		}
		return c.ShardSlot() == freed
	})
	defer c.Close()
	if c.ShardSlot() != freed {
		t.Fatalf("slot %d not taken again (got %d)", freed, c.ShardSlot())
	}
	// Fares settled by both land in distinct shard rows, and the books hold.
	f.topUp("vn_s1", 100_000)
	f.do(proto.KindMetroEntry, catLinh, "vn_s1")
	f.do(proto.KindMetroExit, haDong, "vn_s1")
	var shards []int
	rows, err := f.store.Pool().Query(ctx, "SELECT DISTINCT shard FROM account_shards WHERE shard >= 0 ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int
		rows.Scan(&n)
		shards = append(shards, n)
	}
	rows.Close()
	for _, n := range shards {
		if n/2 != f.store.ShardSlot() {
			t.Errorf("shard %d written, outside store slot %d's shards", n, f.store.ShardSlot())
		}
	}
	f.checkBooks()
}

// A journey closed again between the exporter's read and its mark (a late
// entry corrects an exit decided first) has a newer position; the cursor
// moves to where the journey was read, so the journeys closed in between
// are not skipped, and the corrected one is exported again.
func TestJourneyClosedAgainDoesNotSkipOthers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, r := range []string{"vn_j1", "vn_j2"} {
		f.topUp(r, 100_000)
		f.do(proto.KindMetroEntry, catLinh, r)
		f.do(proto.KindMetroExit, haDong, r)
	}
	var first []ridership.Journey
	eventually(t, func() bool {
		var err error
		first, err = f.store.PendingJourneys(ctx, 1, noPseudo)
		return err != nil || len(first) == 1
	})
	if len(first) != 1 || first[0].RiderKey != "p:vn_j1" {
		t.Fatalf("first pending journey %+v, want vn_j1's", first)
	}
	// Corrected before the mark: a newer position than vn_j2's journey.
	if _, err := f.store.Pool().Exec(ctx, "UPDATE journeys SET export_txid = pg_current_xact_id() WHERE id = $1", first[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := f.store.MarkJourneysExported(ctx, first[0].Outbox); err != nil {
		t.Fatal(err)
	}
	var rest []ridership.Journey
	eventually(t, func() bool {
		js, err := f.store.PendingJourneys(ctx, 10, noPseudo)
		if err != nil {
			t.Fatal(err)
		}
		rest = js
		return len(js) == 2
	})
	if len(rest) != 2 || rest[0].RiderKey != "p:vn_j2" || rest[1].ID != first[0].ID {
		t.Fatalf("after the mark: %+v, want vn_j2's journey, then vn_j1's again", rest)
	}
}

// A rider's open journey is seen even when a finished journey is newer (an
// exit a gate decided offline drained before the entry of the journey that
// preceded it): an entry then meets the open journey (pass-back) instead
// of opening a second one, which the database refuses on every retry.
func TestOpenJourneyOlderThanTheLastFinished(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.topUp("vn_ooo", 100_000)
	want(t, f.do(proto.KindMetroEntry, catLinh, "vn_ooo"), proto.ReasonOK)
	// A finished journey newer than the open one.
	if _, err := f.store.Pool().Exec(ctx, `INSERT INTO journeys (subject, network_id, operator_id, exit_site, exit_at,
		status, fare, fare_rule, category, export_txid)
		SELECT subject, network_id, operator_id, $2, now(), 'incomplete', 0, 'missing_entry', category, pg_current_xact_id()
		FROM journeys WHERE subject = $1`, "vn_ooo", haDong); err != nil {
		t.Fatal(err)
	}
	want(t, f.do(proto.KindMetroEntry, laThanh, "vn_ooo"), proto.ReasonPassBack)
	d := f.do(proto.KindMetroExit, haDong, "vn_ooo")
	want(t, d, proto.ReasonOK)
	f.checkBooks()
}
