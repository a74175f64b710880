package settlepg_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/settlepg"
)

// BenchmarkSettleTaps measures settlement on the local PostgreSQL: b.N taps
// (half entries, half exits of single journeys on Line 2A, each exit a fare
// posted to the ledger) decided by the admission processor and admitted by
// the store from 256 concurrent callers, as the fare service's MQTT workers
// call it. The assertion check is the test verifier (token parsing), so the
// figure is settlement, not Ed25519 (see services/vneid's benchmark).
// Figures are in services/settlepg/README.md.
func BenchmarkSettleTaps(b *testing.B) {
	ctx := context.Background()
	var bt settlepg.Batching
	fmt.Sscan(os.Getenv("BENCH_COMMITTERS"), &bt.Committers)
	fmt.Sscan(os.Getenv("BENCH_MAXBATCH"), &bt.MaxBatch)
	s, err := settlepg.OpenWith(ctx, testenv.PostgresURL(b), nil, bt)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fares, err := fare.LoadGTFS(fare.HanoiData())
	if err != nil {
		b.Fatal(err)
	}
	p, err := admission.New(admission.Config{Verifier: verifier{time.Now}, Fares: fares, Store: s, MaxTapAge: time.Hour, Budget: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	riders := (b.N + 1) / 2
	subjects := make([]string, riders)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("vn_bench_%d_%d", b.N, i)
	}
	if err := s.OpenRiderAccounts(ctx, subjects); err != nil {
		b.Fatal(err)
	}
	for lo := 0; lo < riders; lo += 5000 {
		var txs []ledger.Transaction
		for _, sub := range subjects[lo:min(lo+5000, riders)] {
			t, _ := ledger.Transfer("bench-topup:"+sub, "topup", "", ledger.ProviderSettlement("sim"), ledger.Rider(sub), money.Dong(100000))
			txs = append(txs, t)
		}
		if err := s.PostBatch(ctx, txs); err != nil {
			b.Fatal(err)
		}
	}
	stations := []string{catLinh, laThanh, "hn2a-thai-ha", "hn2a-lang", "hn2a-thuong-dinh", haDong, yen}
	// Each rider enters, then exits 10 minutes later (captured times in the
	// past: MaxTapAge is raised so that the benchmark measures the store).
	start := time.Now().Add(-30 * time.Minute)
	type tapMsg struct {
		topic   string
		payload []byte
	}
	mk := func(i int, kind proto.Kind, at time.Time) tapMsg {
		site := stations[i%len(stations)]
		if kind == proto.KindMetroExit {
			site = stations[(i+3)%len(stations)]
		}
		dev := site + "-g01"
		t := proto.Tap{EventID: proto.NewEventID(at), Device: dev, Site: site, Kind: kind,
			Assertion: subjects[i] + ".b" + fmt.Sprint(b.N) + "j" + fmt.Sprint(i) + string(kind[7]) + "." + dev, CapturedAt: proto.At(at)}
		payload, err := t.Encode()
		if err != nil {
			b.Fatal(err)
		}
		return tapMsg{proto.Topics{}.Taps(site, dev), payload}
	}
	var entries, exits []tapMsg
	for i := 0; i < riders; i++ {
		entries = append(entries, mk(i, proto.KindMetroEntry, start))
		exits = append(exits, mk(i, proto.KindMetroExit, start.Add(10*time.Minute)))
	}
	taps := append(entries, exits...)[:b.N]
	var next atomic.Int64
	var failed atomic.Int64
	var firstFailure atomic.Value
	before := s.BatchStats()
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 256; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(taps) {
					return
				}
				r, err := p.Handle(ctx, taps[i].topic, taps[i].payload)
				if err != nil || r.Reason != proto.ReasonOK {
					if failed.Add(1) == 1 {
						firstFailure.Store(fmt.Sprintf("%v %s", err, r.Reason))
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d taps failed or were refused, the first: %v", n, b.N, firstFailure.Load())
	}
	after := s.BatchStats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "taps/s")
	if batches := after.Batches - before.Batches; batches > 0 {
		b.ReportMetric(float64(after.Items-before.Items)/float64(batches), "taps/batch")
	}
	books, err := s.Books(ctx)
	if err != nil || !books.Balanced() {
		b.Fatalf("books after the benchmark: %+v %v", books, err)
	}
}
