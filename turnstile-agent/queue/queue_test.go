package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	appendN(t, q, 0, 10)

	head, err := q.Peek(3)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(head); !slices.Equal(got, idRange(0, 3)) {
		t.Fatalf("Peek(3) = %v", got)
	}
	wantQueue(t, q, idRange(0, 10))
	for i := 1; i < len(head); i++ {
		if head[i].Seq <= head[i-1].Seq {
			t.Fatalf("seqs not increasing: %d then %d", head[i-1].Seq, head[i].Seq)
		}
	}

	// Out of order: the head moves past 0 but 3 stays out.
	if err := q.Ack(evID(3), evID(0)); err != nil {
		t.Fatal(err)
	}
	wantQueue(t, q, idRange(0, 10, 0, 3))
	head, _ = q.Peek(1)
	if head[0].ID != evID(1) {
		t.Fatalf("head after acking 0 and 3 = %s", head[0].ID)
	}
	// Unknown and repeated ids are no-ops.
	if err := q.Ack(evID(3), "never-appended", evID(3)); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 8 {
		t.Fatalf("Len = %d", q.Len())
	}
	if got := q.Stats().Acked; got != 2 {
		t.Fatalf("Stats.Acked = %d", got)
	}
	if err := q.Damage(); err != nil {
		t.Fatalf("Damage on a clean queue: %v", err)
	}
}

func TestScanCursorAndLimits(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	appendN(t, q, 0, 10)
	recs := all(t, q)

	got, _ := q.Scan(recs[4].Seq, 3, 0)
	if !slices.Equal(ids(got), idRange(5, 8)) {
		t.Fatalf("Scan after #4, max 3 = %v", ids(got))
	}
	one := len(recs[0].Payload)
	got, _ = q.Scan(0, 0, 2*one+1)
	if !slices.Equal(ids(got), idRange(0, 2)) {
		t.Fatalf("Scan maxBytes for two = %v", ids(got))
	}
	// The first record always comes, whatever its size.
	got, _ = q.Scan(0, 0, 1)
	if !slices.Equal(ids(got), idRange(0, 1)) {
		t.Fatalf("Scan maxBytes 1 = %v", ids(got))
	}
	if got, _ = q.Scan(recs[9].Seq, 0, 0); len(got) != 0 {
		t.Fatalf("Scan past the end = %v", ids(got))
	}
}

func TestRestartKeepsUnackedDropsAcked(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	appendN(t, q, 0, 10)
	if err := q.Ack(evID(0), evID(1), evID(2)); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(evID(7), evID(4)); err != nil {
		t.Fatal(err)
	}
	before := all(t, q)
	mustClose(t, q)

	q = open(t, dir, Options{})
	wantQueue(t, q, idRange(0, 10, 0, 1, 2, 4, 7))
	after := all(t, q)
	for i := range before {
		if before[i].Seq != after[i].Seq {
			t.Fatalf("record %s seq %d before restart, %d after", before[i].ID, before[i].Seq, after[i].Seq)
		}
	}
	if err := q.Damage(); err != nil {
		t.Fatalf("Damage after a clean restart: %v", err)
	}
	// New records go after the old ones, with higher seqs.
	appendN(t, q, 10, 12)
	recs := all(t, q)
	if recs[len(recs)-1].Seq <= before[len(before)-1].Seq {
		t.Fatalf("seq reused after restart")
	}
	wantQueue(t, q, idRange(0, 12, 0, 1, 2, 4, 7))
}

func TestIdempotentAppend(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	for range 2 {
		if err := q.Append(evID(1), tapBytes(1)); err != nil {
			t.Fatal(err)
		}
	}
	// A second append with another payload does not replace the first.
	if err := q.Append(evID(1), []byte("other")); err != nil {
		t.Fatal(err)
	}
	wantQueue(t, q, idRange(1, 2))
	if got := q.Stats().Duplicates; got != 2 {
		t.Fatalf("Stats.Duplicates = %d", got)
	}
	mustClose(t, q)

	// After a crash between Append and the writer's bookkeeping.
	q = open(t, dir, Options{})
	appendN(t, q, 1, 3)
	wantQueue(t, q, idRange(1, 3))

	// Acknowledged but not compacted: still known, not stored again.
	if err := q.Ack(evID(1)); err != nil {
		t.Fatal(err)
	}
	appendN(t, q, 1, 2)
	wantQueue(t, q, idRange(2, 3))

	// Many at once with the same id.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() { errs <- q.Append(evID(9), tapBytes(9)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantQueue(t, q, []string{evID(2), evID(9)})
	mustClose(t, q)
	q = open(t, dir, Options{})
	wantQueue(t, q, []string{evID(2), evID(9)})
}

func TestConcurrentAppendsGroupCommit(t *testing.T) {
	const writers, each = 16, 200
	dir := t.TempDir()
	q := open(t, dir, Options{SegmentBytes: 64 << 10}) // several segments
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := q.Append(fmt.Sprintf("w%02d-%04d", w, i), fmt.Appendf(nil, "%d/%d", w, i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := q.Stats()
	if q.Len() != writers*each || st.Appended != writers*each {
		t.Fatalf("Len %d, Appended %d, want %d", q.Len(), st.Appended, writers*each)
	}
	if st.Syncs >= st.Appended {
		t.Fatalf("group commit: %d fsyncs for %d appends", st.Syncs, st.Appended)
	}
	t.Logf("%d appends from %d goroutines took %d fsyncs", st.Appended, writers, st.Syncs)
	before := all(t, q)
	checkPerWriterOrder(t, before, writers, each)
	mustClose(t, q)

	q = open(t, dir, Options{})
	after := all(t, q)
	if !slices.Equal(ids(before), ids(after)) {
		t.Fatal("order changed across a restart")
	}
	for _, r := range after {
		var w, i int
		fmt.Sscanf(r.ID, "w%02d-%04d", &w, &i)
		if string(r.Payload) != fmt.Sprintf("%d/%d", w, i) {
			t.Fatalf("%s: payload %q", r.ID, r.Payload)
		}
	}
}

// checkPerWriterOrder checks every writer's records are all there, each once,
// in the order the writer appended them.
func checkPerWriterOrder(t testing.TB, recs []Record, writers, each int) {
	t.Helper()
	next := make([]int, writers)
	for _, r := range recs {
		var w, i int
		if _, err := fmt.Sscanf(r.ID, "w%02d-%04d", &w, &i); err != nil {
			t.Fatalf("id %q: %v", r.ID, err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: record %d where %d was due", w, i, next[w])
		}
		next[w]++
	}
	for w, n := range next {
		if n != each {
			t.Fatalf("writer %d: %d records, want %d", w, n, each)
		}
	}
}

func TestNoGroupCommitSyncsEveryAppend(t *testing.T) {
	q := open(t, t.TempDir(), Options{NoGroupCommit: true})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if err := q.Append(fmt.Sprintf("w%02d-%04d", w, i), []byte("x")); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	st := q.Stats()
	if st.Appended != 100 || st.Syncs != 100 {
		t.Fatalf("Appended %d, Syncs %d; want 100 each", st.Appended, st.Syncs)
	}
	checkPerWriterOrder(t, all(t, q), 4, 25)
}

func TestErrFull(t *testing.T) {
	const limit = 64 << 10
	q := open(t, t.TempDir(), Options{MaxBytes: limit})
	payload := make([]byte, 1000)
	n := 0
	var err error
	for ; n < 1000; n++ {
		if err = q.Append(evID(n), payload); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("after %d appends: %v, want ErrFull", n, err)
	}
	if !strings.Contains(err.Error(), "limit 65536") {
		t.Errorf("ErrFull says %q; want the limit in it", err)
	}
	if st := q.Stats(); st.Bytes > limit || n < limit/1100 {
		t.Fatalf("full at %d records, %d bytes; limit %d", n, st.Bytes, limit)
	}
	if q.Len() != n {
		t.Fatalf("Len = %d after %d accepted appends", q.Len(), n)
	}
	// Still full until something is acknowledged; then compaction frees room.
	if err := q.Append("one-more", payload); !errors.Is(err, ErrFull) {
		t.Fatalf("second try: %v", err)
	}
	if err := q.Ack(idRange(0, n)...); err != nil {
		t.Fatal(err)
	}
	if err := q.Append("one-more", payload); err != nil {
		t.Fatalf("after acking everything: %v", err)
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{SegmentBytes: 2 << 10})
	appendN(t, q, 0, 100)
	segs := len(segFiles(t, dir))
	if segs < 5 {
		t.Fatalf("%d segment files for 100 records of ~115 bytes in 2 KiB segments", segs)
	}
	if q.Stats().Segments != segs {
		t.Fatalf("Stats.Segments = %d, files %d", q.Stats().Segments, segs)
	}
	// Acknowledge the first half, in reverse: whole segments go.
	half := idRange(0, 50)
	slices.Reverse(half)
	if err := q.Ack(half...); err != nil {
		t.Fatal(err)
	}
	if n := len(segFiles(t, dir)); n >= segs-1 {
		t.Fatalf("%d segment files after acking half of %d", n, segs)
	}
	wantQueue(t, q, idRange(50, 100))
	// A segment with one record left stays; the rest go.
	if err := q.Ack(idRange(50, 100, 77)...); err != nil {
		t.Fatal(err)
	}
	if n := len(segFiles(t, dir)); n != 2 {
		t.Fatalf("%d segment files with one record pending, want 2 (its own and the active one)", n)
	}
	if err := q.Ack(evID(77)); err != nil {
		t.Fatal(err)
	}
	if n := len(segFiles(t, dir)); n != 1 {
		t.Fatalf("%d segment files with nothing pending, want 1", n)
	}
	st := q.Stats()
	if st.Bytes > 2<<10 || st.Compacted != uint64(segs-1) {
		t.Fatalf("after compaction: %+v", st)
	}
	mustClose(t, q)
	q = open(t, dir, Options{SegmentBytes: 2 << 10})
	wantQueue(t, q, nil)
	appendN(t, q, 100, 101)
	wantQueue(t, q, idRange(100, 101))
}

func TestAckLogRewrite(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	q.ackCheckAt, q.ackMin = 8, 8
	ackEntries := func() int64 {
		fi, err := os.Stat(filepath.Join(dir, ackName))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size() / ackEntrySize
	}
	appendN(t, q, 0, 200)
	for i := range 200 {
		if i == 5 || i == 150 {
			continue
		}
		if err := q.Ack(evID(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Rewrites keep a watermark at 5 and every ack above it.
	if n := ackEntries(); n < 1+193 {
		t.Fatalf("ack log has %d entries; the acks above the head need 193", n)
	}
	mustClose(t, q)
	q = open(t, dir, Options{})
	q.ackCheckAt, q.ackMin = 8, 8
	wantQueue(t, q, []string{evID(5), evID(150)})

	// With the head past everything a rewrite leaves the watermark alone.
	if err := q.Ack(evID(150), evID(5)); err != nil {
		t.Fatal(err)
	}
	for i := 200; i < 250; i++ {
		appendN(t, q, i, i+1)
		if err := q.Ack(evID(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := ackEntries(); n > 16 {
		t.Fatalf("ack log has %d entries with nothing pending", n)
	}
	appendN(t, q, 250, 252)
	mustClose(t, q)
	q = open(t, dir, Options{})
	wantQueue(t, q, idRange(250, 252))
	if err := q.Damage(); err != nil {
		t.Fatal(err)
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	mustClose(t, q)
	open(t, dir, Options{})
}

func TestClosed(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	appendN(t, q, 0, 1)
	mustClose(t, q)
	if err := q.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := q.Append("x", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Append: %v", err)
	}
	if _, err := q.Peek(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Peek: %v", err)
	}
	if err := q.Ack(evID(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Ack: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	for _, tc := range []struct {
		id      string
		payload int
		want    error
	}{
		{"", 1, ErrBadID},
		{strings.Repeat("a", MaxID+1), 1, ErrBadID},
		{"a", MaxPayload + 1, ErrTooLarge},
		{strings.Repeat("a", MaxID), MaxPayload, nil},
		{"empty-payload", 0, nil},
	} {
		if err := q.Append(tc.id, make([]byte, tc.payload)); !errors.Is(err, tc.want) {
			t.Errorf("Append(%d-byte id, %d bytes) = %v, want %v", len(tc.id), tc.payload, err, tc.want)
		}
	}
	if q.Len() != 2 {
		t.Fatalf("Len = %d", q.Len())
	}
	if _, err := Open(t.TempDir(), Options{MaxBytes: -1}); err == nil {
		t.Error("Open with negative MaxBytes succeeded")
	}
}

// A failed write leaves the end of the segment unknown: the queue refuses
// Appends until reopened, and reopening keeps everything durable.
func TestWriteFailureIsSticky(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, q, 0, 3)
	q.segs[len(q.segs)-1].f.Close() // the disk goes away
	if err := q.Append(evID(3), tapBytes(3)); err == nil {
		t.Fatal("Append to a closed file succeeded")
	}
	if err := q.Append(evID(4), tapBytes(4)); err == nil || !strings.Contains(err.Error(), "reopen") {
		t.Fatalf("Append after a failed write: %v", err)
	}
	q.Close()
	q = open(t, dir, Options{})
	wantQueue(t, q, idRange(0, 3))
	appendN(t, q, 3, 5)
	wantQueue(t, q, idRange(0, 5))
}

// The ack log's watermark says "everything below is acknowledged". Written
// while Appends are under way it must stay below records not yet durable,
// or a restart would take them for acknowledged and lose them.
func TestAckLogRewriteDuringAppends(t *testing.T) {
	const writers, each = 2, 300
	dir := t.TempDir()
	q := open(t, dir, Options{})
	q.ackCheckAt, q.ackMin = 2, 2 // rewrite at almost every Ack
	var (
		wg    sync.WaitGroup
		acked = make(map[string]bool)
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := q.Append(fmt.Sprintf("w%02d-%04d", w, i), []byte("tap")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Keep up with the writers for a while, so that the queue is often
	// empty with an Append under way, then stop as a crash would.
	for len(acked) < writers*each/2 {
		head, err := q.Peek(100)
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Ack(ids(head)...); err != nil {
			t.Fatal(err)
		}
		for _, r := range head {
			acked[r.ID] = true
		}
	}
	wg.Wait()
	mustClose(t, q)

	q = open(t, dir, Options{})
	left := make(map[string]bool)
	for _, r := range all(t, q) {
		left[r.ID] = true
	}
	for w := range writers {
		for i := range each {
			id := fmt.Sprintf("w%02d-%04d", w, i)
			if acked[id] == left[id] {
				t.Fatalf("%s: acknowledged %v, still queued after restart %v", id, acked[id], left[id])
			}
		}
	}
	t.Logf("%d acknowledged while appending, %d left", len(acked), len(left))
}

// An ack for a record lost to damage must not swallow the new record that
// gets its seq after a restart.
func TestAckOfLostRecordSwallowsNothing(t *testing.T) {
	src, seg, offs := fiveRecords(t)
	q := open(t, src, Options{})
	if err := q.Ack(evID(4)); err != nil {
		t.Fatal(err)
	}
	mustClose(t, q)
	dir := copyDir(t, src, func(name string, b []byte) []byte {
		if name == seg {
			return b[:offs[4]+3] // the acknowledged last record, damaged
		}
		return b
	})
	q = open(t, dir, Options{})
	wantQueue(t, q, idRange(0, 4))
	appendN(t, q, 5, 6) // takes the lost record's seq
	mustClose(t, q)
	q = open(t, dir, Options{})
	wantQueue(t, q, []string{evID(0), evID(1), evID(2), evID(3), evID(5)})
}

// The same, made certain: an Append has its seq but is not durable yet when
// an Ack rewrites the log with every durable record acknowledged.
func TestWatermarkStaysBelowRecordsInFlight(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	appendN(t, q, 0, 3)
	q.mu.Lock() // what Append does before it waits for the write
	b := q.cur
	seq := q.nextSeq
	q.nextSeq++
	b.buf = appendRecord(b.buf, seq, evID(3), tapBytes(3))
	b.recs = append(b.recs, batchRec{seq: seq, id: evID(3), size: recordSize(evID(3), tapBytes(3))})
	q.inflight[evID(3)] = b
	q.mu.Unlock()

	q.ackCheckAt, q.ackMin = 1, 1
	if err := q.Ack(idRange(0, 3)...); err != nil {
		t.Fatal(err)
	}
	if n := q.ackEntries; n != 1 {
		t.Fatalf("ack log not rewritten: %d entries", n)
	}
	q.mu.Lock()
	err := q.waitLocked(b)
	q.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, q)
	q = open(t, dir, Options{})
	wantQueue(t, q, idRange(3, 4))
}
