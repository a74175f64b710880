package queue

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fiveRecords makes a closed queue of records 0..4 in one segment and
// returns its directory, the segment's name and the offset of each record.
func fiveRecords(t *testing.T) (dir, seg string, offs []int) {
	t.Helper()
	dir = t.TempDir()
	q := open(t, dir, Options{})
	appendN(t, q, 0, 5)
	mustClose(t, q)
	files := segFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("%d segment files", len(files))
	}
	off := 0
	for i := range 6 {
		offs = append(offs, off)
		if i < 5 {
			off += recordSize(evID(i), tapBytes(i))
		}
	}
	return dir, filepath.Base(files[0]), offs
}

// A power cut while the last record was being written leaves any prefix of
// it on disk. Every one reopens to the four records before it, reports the
// torn tail, and takes new records after them.
func TestTornLastRecordAtEveryOffset(t *testing.T) {
	src, seg, offs := fiveRecords(t)
	last, end := offs[4], offs[5]
	for cut := last; cut < end; cut++ {
		dir := copyDir(t, src, func(name string, b []byte) []byte {
			if name == seg {
				return b[:cut]
			}
			return b
		})
		q, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("cut at %d: Open: %v", cut, err)
		}
		wantQueue(t, q, idRange(0, 4))
		st := q.Stats()
		torn := cut > last
		if (st.TornRecords == 1) != torn || st.TornBytes != int64(cut-last) {
			t.Fatalf("cut at %d of %d..%d: %+v", cut, last, end, st)
		}
		wantDamage(t, q, torn, false)
		if fi, _ := os.Stat(filepath.Join(dir, seg)); fi.Size() != int64(last) {
			t.Fatalf("cut at %d: segment is %d bytes after Open, want %d", cut, fi.Size(), last)
		}
		appendN(t, q, 4, 6)
		mustClose(t, q)

		q = open(t, dir, Options{})
		wantQueue(t, q, idRange(0, 6))
		wantDamage(t, q, false, false)
		mustClose(t, q)
	}
}

// A byte flipped anywhere in a record between others (bit rot, a bad
// sector) loses that record only: it is reported and skipped, and the
// records after it, whose offsets the damaged length no longer gives, are
// found again.
func TestFlippedByteInMiddleRecord(t *testing.T) {
	src, seg, offs := fiveRecords(t)
	for at := offs[2]; at < offs[3]; at++ {
		dir := copyDir(t, src, func(name string, b []byte) []byte {
			if name == seg {
				b[at] ^= 0xff
			}
			return b
		})
		q, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("flip at %d: Open: %v", at, err)
		}
		wantQueue(t, q, idRange(0, 5, 2))
		st := q.Stats()
		if st.CorruptRecords != 1 || st.CorruptBytes != int64(offs[3]-offs[2]) || st.TornRecords != 0 {
			t.Fatalf("flip at %d: %+v", at, st)
		}
		wantDamage(t, q, false, true)
		appendN(t, q, 5, 6)
		mustClose(t, q)

		// The damage stays in the file and is reported again, and nothing
		// else changes.
		q = open(t, dir, Options{})
		wantQueue(t, q, idRange(0, 6, 2))
		wantDamage(t, q, false, true)
		mustClose(t, q)
	}
}

// Damage in the last record cannot be told from a torn write: it is cut
// off and reported as torn.
func TestFlippedByteInLastRecord(t *testing.T) {
	src, seg, offs := fiveRecords(t)
	dir := copyDir(t, src, func(name string, b []byte) []byte {
		if name == seg {
			b[offs[4]+headerSize] ^= 1
		}
		return b
	})
	q := open(t, dir, Options{})
	wantQueue(t, q, idRange(0, 4))
	wantDamage(t, q, true, false)
}

func TestGarbageBetweenRecords(t *testing.T) {
	src, seg, offs := fiveRecords(t)
	junk := []byte(strings.Repeat("VQR\x01", 40) + "not a record")
	dir := copyDir(t, src, func(name string, b []byte) []byte {
		if name == seg {
			return append(append(append([]byte{}, b[:offs[3]]...), junk...), b[offs[3]:]...)
		}
		return b
	})
	q := open(t, dir, Options{})
	wantQueue(t, q, idRange(0, 5))
	if st := q.Stats(); st.CorruptRecords != 1 || st.CorruptBytes != int64(len(junk)) {
		t.Fatalf("%+v", st)
	}
}

// ackedQueue makes a closed queue of records 0..5 with 0, 1 and 2
// acknowledged by three separate Acks: three ack log entries.
func ackedQueue(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	q := open(t, dir, Options{})
	appendN(t, q, 0, 6)
	for i := range 3 {
		if err := q.Ack(evID(i)); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, q)
	return dir
}

func TestCorruptAckLog(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		dir := copyDir(t, ackedQueue(t), func(name string, b []byte) []byte {
			if name == ackName {
				return nil
			}
			return b
		})
		q := open(t, dir, Options{})
		// Never lost: every record comes back, to be sent again.
		wantQueue(t, q, idRange(0, 6))
		if !q.Stats().AckLogMissing {
			t.Error("Stats.AckLogMissing not set")
		}
		wantDamage(t, q, false, true)
	})
	t.Run("flipped entry", func(t *testing.T) {
		dir := copyDir(t, ackedQueue(t), func(name string, b []byte) []byte {
			if name == ackName {
				b[ackEntrySize+3] ^= 0x10 // the ack of record 1
			}
			return b
		})
		q := open(t, dir, Options{})
		wantQueue(t, q, idRange(0, 6, 0, 2))
		if st := q.Stats(); st.CorruptAcks != 1 {
			t.Errorf("%+v", st)
		}
		wantDamage(t, q, false, true)
		// Acking it again works, and the damaged entry does no harm.
		if err := q.Ack(evID(1)); err != nil {
			t.Fatal(err)
		}
		mustClose(t, q)
		q = open(t, dir, Options{})
		wantQueue(t, q, idRange(3, 6))
	})
	t.Run("torn at every offset", func(t *testing.T) {
		src := ackedQueue(t)
		for cut := 2*ackEntrySize + 1; cut < 3*ackEntrySize; cut++ {
			dir := copyDir(t, src, func(name string, b []byte) []byte {
				if name == ackName {
					return b[:cut]
				}
				return b
			})
			q := open(t, dir, Options{})
			wantQueue(t, q, idRange(2, 6))
			if st := q.Stats(); st.TornAcks != 1 || st.CorruptAcks != 0 {
				t.Fatalf("cut at %d: %+v", cut, st)
			}
			wantDamage(t, q, true, false)
			// The next entry goes where the torn one started.
			if err := q.Ack(evID(3)); err != nil {
				t.Fatal(err)
			}
			mustClose(t, q)
			q = open(t, dir, Options{})
			wantQueue(t, q, []string{evID(2), evID(4), evID(5)})
			wantDamage(t, q, false, false)
			mustClose(t, q)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		dir := copyDir(t, ackedQueue(t), func(name string, b []byte) []byte {
			if name == ackName {
				b = make([]byte, 1000)
				for i := range b {
					b[i] = byte(rng.UintN(256))
				}
			}
			return b
		})
		q := open(t, dir, Options{})
		wantQueue(t, q, idRange(0, 6))
		if st := q.Stats(); st.CorruptAcks != 1000/ackEntrySize || st.TornAcks != 1 {
			t.Errorf("%+v", st)
		}
	})
	t.Run("leftover rewrite", func(t *testing.T) {
		dir := copyDir(t, ackedQueue(t), nil)
		// A rewrite that never got renamed into place says nothing.
		if err := os.WriteFile(filepath.Join(dir, ackTmpName), appendAck(nil, 100|watermarkFlag), 0o600); err != nil {
			t.Fatal(err)
		}
		q := open(t, dir, Options{})
		wantQueue(t, q, idRange(3, 6))
		if _, err := os.Stat(filepath.Join(dir, ackTmpName)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", ackTmpName, err)
		}
	})
}

// A record damaged on disk after Open is caught on read, reported and
// skipped; the rest still come.
func TestDamageFoundOnRead(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{})
	appendN(t, q, 0, 5)
	f, err := os.OpenFile(segFiles(t, dir)[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	off := recordSize(evID(0), tapBytes(0)) + headerSize + 20
	if _, err := f.WriteAt([]byte("#"), int64(off)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantQueue(t, q, idRange(0, 5, 1))
	if st := q.Stats(); st.CorruptRecords != 1 {
		t.Fatalf("%+v", st)
	}
	wantDamage(t, q, false, true)
}

// A segment file in the middle whose records are all damaged costs those
// records only.
func TestSegmentOfGarbage(t *testing.T) {
	dir := t.TempDir()
	q := open(t, dir, Options{SegmentBytes: 1 << 10})
	appendN(t, q, 0, 30)
	mustClose(t, q)
	files := segFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("%d segments", len(files))
	}
	b, _ := os.ReadFile(files[1])
	lost := 0
	for off := 0; off < len(b); {
		r, _ := parseRecord(b[off:])
		off += r.size
		lost++
	}
	for i := range b {
		b[i] = 0
	}
	os.WriteFile(files[1], b, 0o600)
	q = open(t, dir, Options{SegmentBytes: 1 << 10})
	if q.Len() != 30-lost {
		t.Fatalf("Len = %d, want %d", q.Len(), 30-lost)
	}
	// All zeros to the end of the file reads as a torn tail.
	wantDamage(t, q, true, false)
	appendN(t, q, 30, 31)
	if q.Len() != 31-lost {
		t.Fatalf("Len = %d", q.Len())
	}
}
