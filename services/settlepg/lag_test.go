package settlepg_test

import (
	"context"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
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
	if err := f.store.MarkTapsExported(ctx, []string{entry.EventID}); err != nil {
		t.Fatal(err)
	}
	if at := oldest(); !at.Equal(exitAt) {
		t.Errorf("entry exported: oldest %s, want the exit tap's %s", at, exitAt)
	}
	// The taps all exported: the journey the exit closed is still behind,
	// dated by its exit tap.
	if err := f.store.MarkTapsExported(ctx, []string{exit.EventID}); err != nil {
		t.Fatal(err)
	}
	js := f.journeysOf("vn_lag")
	if len(js) != 1 {
		t.Fatalf("%d journeys, want 1", len(js))
	}
	if at := oldest(); !at.Equal(exitAt) {
		t.Errorf("taps exported: oldest %s, want the journey's %s", at, exitAt)
	}
	if err := f.store.MarkJourneysExported(ctx, []int64{js[0].ID}); err != nil {
		t.Fatal(err)
	}
	if at := oldest(); !at.IsZero() {
		t.Errorf("all exported: oldest %s, want none", at)
	}
}
