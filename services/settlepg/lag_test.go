package settlepg_test

import (
	"context"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/ridership"
)

// OldestUnexported follows the export cursor: the oldest tap received and
// not yet exported, then the journey its exit closed, then nothing.
func TestOldestUnexported(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	oldest := func() time.Time {
		t.Helper()
		at, err := f.store.OldestUnexported(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	if at := oldest(); !at.IsZero() {
		t.Fatalf("empty outbox: oldest %s, want none", at)
	}
	f.topUp("vn_lag", 50000)
	entry, b := f.tap(proto.KindMetroEntry, catLinh, "vn_lag")
	f.handle(entry, b)
	entryAt := f.now
	exit, b := f.tap(proto.KindMetroExit, yen, "vn_lag")
	f.handle(exit, b)
	exitAt := f.now

	if at := oldest(); !at.Equal(entryAt) {
		t.Errorf("oldest %s, want the entry tap's %s", at, entryAt)
	}
	var pending []ridership.Tap
	eventually(t, func() bool {
		var err error
		pending, err = f.store.PendingTaps(ctx, 1, func(s string) string { return s })
		return err != nil || len(pending) == 1
	})
	if len(pending) != 1 || pending[0].EventID != entry.EventID {
		t.Fatalf("first pending tap %+v, want the entry", pending)
	}
	if err := f.store.MarkTapsExported(ctx, pending[0].Outbox); err != nil {
		t.Fatal(err)
	}
	if at := oldest(); !at.Equal(exitAt) {
		t.Errorf("entry exported: oldest %s, want the exit tap's %s", at, exitAt)
	}
	// The taps all exported: the journey the exit closed is still behind,
	// dated by its exit tap.
	// Eventually: the outbox holds rows back while an older transaction
	// runs anywhere on the server, and other packages' tests share it.
	var err error
	eventually(t, func() bool {
		pending, err = f.store.PendingTaps(ctx, 10, func(s string) string { return s })
		return err != nil || len(pending) > 0
	})
	if err != nil || len(pending) != 1 || pending[0].EventID != exit.EventID {
		t.Fatalf("pending taps %+v (%v), want the exit", pending, err)
	} else if err := f.store.MarkTapsExported(ctx, pending[0].Outbox); err != nil {
		t.Fatal(err)
	}
	js := f.journeysOf("vn_lag")
	if len(js) != 1 {
		t.Fatalf("%d journeys, want 1", len(js))
	}
	if at := oldest(); !at.Equal(exitAt) {
		t.Errorf("taps exported: oldest %s, want the journey's %s", at, exitAt)
	}
	var pj []ridership.Journey
	eventually(t, func() bool {
		var err error
		pj, err = f.store.PendingJourneys(ctx, 10, func(s string) string { return s })
		return err != nil || len(pj) == 1
	})
	if len(pj) != 1 || pj[0].ID != js[0].ID {
		t.Fatalf("pending journeys %+v, want the one", pj)
	}
	if err := f.store.MarkJourneysExported(ctx, pj[0].Outbox); err != nil {
		t.Fatal(err)
	}
	if at := oldest(); !at.IsZero() {
		t.Errorf("all exported: oldest %s, want none", at)
	}
}
