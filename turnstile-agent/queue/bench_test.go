package queue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// benchPayload is about the size of an encoded tap: JSON with a VNeID
// assertion.
var benchPayload = make([]byte, 700)

// BenchmarkAppend measures durable appends of tap-sized records, alone and
// from many goroutines (RunParallel with 8 goroutines per CPU), with and
// without group commit. fsyncs/op shows how many Appends share an fsync.
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name     string
		noGroup  bool
		parallel int
	}{
		{"serial/1", true, 0},
		{"group/1", false, 0},
		{"serial/8xCPU", true, 8},
		{"group/8xCPU", false, 8},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := open(b, b.TempDir(), Options{NoGroupCommit: bc.noGroup})
			var n atomic.Int64
			b.SetBytes(int64(len(benchPayload)))
			b.ResetTimer()
			if bc.parallel == 0 {
				for i := 0; b.Loop(); i++ {
					if err := q.Append(evID(i), benchPayload); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(bc.parallel)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := q.Append(fmt.Sprintf("ev-%09d", n.Add(1)), benchPayload); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			st := q.Stats()
			b.ReportMetric(float64(st.Syncs)/float64(st.Appended), "fsyncs/op")
		})
	}
}

// BenchmarkDrain100k is the reconnect after a long outage: 100,000 tap-sized
// records on disk, the agent restarted, then every record read in order
// and acknowledged in batches of 500 (one ack-log fsync each) until the
// queue is empty and its segments deleted. One op is the whole drain,
// Open included.
func BenchmarkDrain100k(b *testing.B) {
	const n = 100_000
	src := b.TempDir()
	q, err := Open(src, Options{})
	if err != nil {
		b.Fatal(err)
	}
	fill(b, q, n)
	q.Close()

	var openTime time.Duration
	b.SetBytes(n * int64(len(benchPayload)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := copyDir(b, src, nil)
		b.StartTimer()

		start := time.Now()
		q, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		openTime += time.Since(start)
		ctx, cancel := context.WithCancel(context.Background())
		got := 0
		err = q.Drain(ctx, DrainOptions{Batch: 500}, func(_ context.Context, batch []Record) error {
			got += len(batch)
			if got == n {
				cancel()
			}
			return q.Ack(ids(batch)...)
		})
		cancel()
		if got != n || q.Len() != 0 {
			b.Fatalf("drained %d of %d, %d left: %v", got, n, q.Len(), err)
		}
		q.Close()

		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(openTime.Milliseconds())/float64(b.N), "open-ms/op")
}

// fill appends n tap-sized records from 32 goroutines.
func fill(b *testing.B, q *Queue, n int) {
	const writers = 32
	var next atomic.Int64
	done := make(chan error, writers)
	for range writers {
		go func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					done <- nil
					return
				}
				if err := q.Append(evID(int(i)), benchPayload); err != nil {
					done <- err
					return
				}
			}
		}()
	}
	for range writers {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(q.dir, "seg-*")); len(m) == 0 {
		b.Fatal("no segments")
	}
}
