package queue

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzRecover feeds arbitrary bytes to Open as a segment file and as the ack
// log, as a power cut, a failing disk or a bad hand edit could leave them.
// Open must not panic or fail, and what it recovers must be a queue that
// works: records intact and in order, appends after them kept, and a second
// Open finding the same records with no torn tail left.
func FuzzRecover(f *testing.F) {
	seedDir := f.TempDir()
	q, err := Open(seedDir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	appendN(f, q, 0, 4)
	q.Ack(evID(1))
	q.Close()
	seg, _ := os.ReadFile(filepath.Join(seedDir, segName(1)))
	acks, _ := os.ReadFile(filepath.Join(seedDir, ackName))
	f.Add(seg, acks)
	f.Add(seg[:len(seg)-7], acks[:len(acks)-1])
	f.Add(append(bytes.Clone(seg[:50]), seg...), []byte(nil))
	f.Add([]byte{}, []byte{})
	f.Add([]byte("VQR\x01VQR\x01"), bytes.Repeat([]byte{0xff}, 24))
	f.Add(appendRecord(appendRecord(nil, 5, "x", nil), 3, "y", nil), appendAck(nil, seqLimit-1))

	f.Fuzz(func(t *testing.T, seg, acks []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		if acks != nil {
			if err := os.WriteFile(filepath.Join(dir, ackName), acks, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		q, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		recs := all(t, q)
		if len(recs) != q.Len() {
			t.Fatalf("Scan gives %d records, Len %d", len(recs), q.Len())
		}
		for i, r := range recs {
			if i > 0 && r.Seq <= recs[i-1].Seq {
				t.Fatalf("seq %d after %d", r.Seq, recs[i-1].Seq)
			}
			if !bytes.Contains(seg, appendRecord(nil, r.Seq, r.ID, r.Payload)) {
				t.Fatalf("record %q (seq %d) is not in the input", r.ID, r.Seq)
			}
		}
		// Some id the input cannot have: ids are at most 255 bytes.
		newID := string(bytes.Repeat([]byte{'n'}, 255))
		if !slices.Contains(ids(recs), newID) {
			if err := q.Append(newID, []byte("after recovery")); err != nil {
				t.Fatalf("Append after recovery: %v", err)
			}
			recs = append(recs, Record{ID: newID})
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}

		q, err = Open(dir, Options{})
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		defer q.Close()
		if got := ids(all(t, q)); !slices.Equal(got, ids(recs)) {
			t.Fatalf("second Open: %q, want %q", got, ids(recs))
		}
		if err := q.Damage(); errors.Is(err, ErrTorn) {
			t.Fatalf("second Open found a torn tail: %v", err)
		}
	})
}
