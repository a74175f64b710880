package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func open(t testing.TB, dir string, opts Options) *Queue {
	t.Helper()
	q, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func evID(i int) string { return fmt.Sprintf("ev-%06d", i) }

func tapBytes(i int) []byte {
	return fmt.Appendf(nil, `{"v":1,"event_id":"ev-%06d","device":"g1","site":"s1","kind":"metro_entry"}`, i)
}

func appendN(t testing.TB, q *Queue, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := q.Append(evID(i), tapBytes(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

func all(t testing.TB, q *Queue) []Record {
	t.Helper()
	recs, err := q.Scan(0, 0, 0)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return recs
}

func ids(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func idRange(from, to int, skip ...int) []string {
	var out []string
	for i := from; i < to; i++ {
		if !slices.Contains(skip, i) {
			out = append(out, evID(i))
		}
	}
	return out
}

// wantQueue checks the queue holds exactly these ids, in this order, each
// with the payload Append gave it.
func wantQueue(t testing.TB, q *Queue, want []string) {
	t.Helper()
	recs := all(t, q)
	if got := ids(recs); !slices.Equal(got, want) {
		t.Fatalf("queue holds %v,\nwant %v", got, want)
	}
	for _, r := range recs {
		var i int
		fmt.Sscanf(r.ID, "ev-%d", &i)
		if string(r.Payload) != string(tapBytes(i)) {
			t.Fatalf("record %s payload %q", r.ID, r.Payload)
		}
	}
	if q.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", q.Len(), len(want))
	}
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// copyDir copies the queue files of src into a new directory, passing each
// file's bytes through edit (nil: unchanged).
func copyDir(t testing.TB, src string, edit func(name string, b []byte) []byte) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			b = edit(de.Name(), b)
		}
		if b == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dst, de.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func mustClose(t testing.TB, q *Queue) {
	t.Helper()
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func wantDamage(t testing.TB, q *Queue, torn, corrupt bool) {
	t.Helper()
	err := q.Damage()
	if got := errors.Is(err, ErrTorn); got != torn {
		t.Errorf("Damage() = %v: torn %v, want %v", err, got, torn)
	}
	if got := errors.Is(err, ErrCorrupt); got != corrupt {
		t.Errorf("Damage() = %v: corrupt %v, want %v", err, got, corrupt)
	}
	var de *DamageError
	if (torn || corrupt) && !errors.As(err, &de) {
		t.Errorf("Damage() = %v: no *DamageError", err)
	}
}
