package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// The acceptance case of issue 5 at the queue's level: 100,000 taps queued
// while offline by many gate goroutines, the agent restarted, then drained
// after reconnect: every one comes out exactly once, in the order the queue
// took them, and the disk is given back.
func TestHundredThousandDrainedAfterReopen(t *testing.T) {
	const writers, each = 32, 3125
	dir := t.TempDir()
	q := open(t, dir, Options{})
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := q.Append(fmt.Sprintf("w%02d-%04d", w, i), fmt.Appendf(nil, `{"v":1,"event_id":"w%02d-%04d","device":"g1","site":"s1","kind":"metro_entry","assertion":"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIwMDEwOTkwMTIzNDUifQ.c2lnbmF0dXJl"}`, w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	appendTime := time.Since(start)
	order := ids(all(t, q))
	checkPerWriterOrder(t, all(t, q), writers, each)
	st := q.Stats()
	t.Logf("appended %d records (%d MB) from %d goroutines in %v: %d fsyncs", st.Appended, st.Bytes>>20, writers, appendTime.Round(time.Millisecond), st.Syncs)
	mustClose(t, q)

	start = time.Now()
	q = open(t, dir, Options{})
	openTime := time.Since(start)
	if q.Len() != writers*each {
		t.Fatalf("Len after reopen = %d", q.Len())
	}

	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var got []string
	err := q.Drain(ctx, DrainOptions{Batch: 500}, func(_ context.Context, batch []Record) error {
		bids := ids(batch)
		got = append(got, bids...)
		if err := q.Ack(bids...); err != nil {
			return err
		}
		if len(got) == writers*each {
			cancel()
		}
		return nil
	})
	drainTime := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain: %v", err)
	}
	if !slices.Equal(got, order) {
		t.Fatalf("drained %d records; not the %d appended, in order", len(got), len(order))
	}
	t.Logf("reopened in %v, drained and acked in %v (%.0f records/s)", openTime.Round(time.Millisecond),
		drainTime.Round(time.Millisecond), float64(len(got))/drainTime.Seconds())
	if q.Len() != 0 {
		t.Fatalf("Len after drain = %d", q.Len())
	}
	if st := q.Stats(); st.Segments != 1 || st.Bytes > 8<<20 {
		t.Fatalf("after drain: %d segments, %d bytes", st.Segments, st.Bytes)
	}
	mustClose(t, q)
	q = open(t, dir, Options{})
	if q.Len() != 0 {
		t.Fatalf("Len after drain and reopen = %d", q.Len())
	}
	wantDamage(t, q, false, false)
}

func TestDrainRate(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	appendN(t, q, 0, 200)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		got     []string
		biggest int
	)
	start := time.Now()
	err := q.Drain(ctx, DrainOptions{Rate: 1000, Burst: 10}, func(_ context.Context, batch []Record) error {
		got = append(got, ids(batch)...)
		biggest = max(biggest, len(batch))
		if len(got) == 200 {
			cancel()
		}
		return nil
	})
	elapsed := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain: %v", err)
	}
	if !slices.Equal(got, idRange(0, 200)) {
		t.Fatalf("drained %v", got)
	}
	// 10 at once, then 190 at 1000/s.
	if elapsed < 170*time.Millisecond {
		t.Fatalf("200 records at 1000/s with a burst of 10 took %v", elapsed)
	}
	if biggest > 10 {
		t.Fatalf("a batch of %d with a burst of 10", biggest)
	}
}

// One Drain carries records appended while it runs, sends each once even
// though nothing acknowledges them, and stops when the queue closes.
func TestDrainFollowsAppends(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	got := make(chan string, 100)
	done := make(chan error)
	go func() {
		done <- q.Drain(context.Background(), DrainOptions{}, func(_ context.Context, batch []Record) error {
			for _, r := range batch {
				got <- r.ID
			}
			return nil
		})
	}()
	for i := range 5 {
		appendN(t, q, i, i+1)
		select {
		case id := <-got:
			if id != evID(i) {
				t.Fatalf("got %s, want %s", id, evID(i))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("record %d never reached send", i)
		}
	}
	q.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Drain after Close: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("sent again: %s", <-got)
	}
}

// A failed send ends the Drain; the next one starts again at the oldest
// record not acknowledged.
func TestDrainResendsUnackedAfterFailure(t *testing.T) {
	q := open(t, t.TempDir(), Options{})
	appendN(t, q, 0, 10)
	errLink := errors.New("link down")
	var sent []string
	err := q.Drain(context.Background(), DrainOptions{Batch: 3}, func(_ context.Context, batch []Record) error {
		if len(sent) == 6 {
			return errLink
		}
		sent = append(sent, ids(batch)...)
		return q.Ack(batch[0].ID) // the cloud confirmed only the first of each batch
	})
	if !errors.Is(err, errLink) {
		t.Fatalf("Drain: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var again []string
	err = q.Drain(ctx, DrainOptions{Batch: 3}, func(_ context.Context, batch []Record) error {
		again = append(again, ids(batch)...)
		if len(again) >= 8 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("second Drain: %v", err)
	}
	if want := idRange(0, 10, 0, 3); !slices.Equal(again, want) {
		t.Fatalf("second Drain sent %v, want %v", again, want)
	}
}
