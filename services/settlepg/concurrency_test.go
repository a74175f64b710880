package settlepg_test

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/internal/testenv"
	"github.com/vnpass/vnpass/ledger"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/settlepg"
)

// Many workers settle taps for the same riders at once, every tap delivered
// one to three times (some copies concurrently, some much later, as MQTT
// redelivers), and two stores (replicas) share the database. Every rider's
// balance must end exactly at the top-up minus the fares of their journeys,
// computed here on the side from the fare table and the caps, and the
// ledger must balance.
func TestConcurrentSettlementIsExact(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	fares, err := fare.LoadGTFS(fare.HanoiData())
	if err != nil {
		t.Fatal(err)
	}
	var procs []*admission.Processor
	var stores []*settlepg.Store
	for i := 0; i < 2; i++ {
		s, err := settlepg.OpenWith(ctx, url, nil, settlepg.Batching{MaxBatch: 32, Committers: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		// Taps carry capture times of the day being replayed: the age
		// check is lifted so that the test is about settlement.
		p, err := admission.New(admission.Config{Verifier: verifier{time.Now}, Fares: fares, Store: s,
			MaxTapAge: 48 * time.Hour, Budget: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		procs, stores = append(procs, p), append(stores, s)
	}
	stations := []string{catLinh, laThanh, "hn2a-thai-ha", "hn2a-lang", "hn2a-thuong-dinh", haDong, yen}
	const riders, journeys = 40, 5
	rng := rand.New(rand.NewSource(7))
	day := time.Now().In(fare.Zone).Truncate(24 * time.Hour).Add(-24 * time.Hour)
	type delivery struct {
		topic   string
		payload []byte
	}
	plans := make([][]delivery, riders)
	want := make(map[string]decimal.Decimal)
	for r := 0; r < riders; r++ {
		sub := fmt.Sprintf("vn_conc_%d", r)
		if _, err := stores[0].OpenRiderAccount(ctx, sub); err != nil {
			t.Fatal(err)
		}
		top, _ := ledger.Transfer("topup:"+sub, "topup", "", ledger.ProviderSettlement("sim"), ledger.Rider(sub), money.Dong(200000))
		if err := stores[0].Post(ctx, top); err != nil {
			t.Fatal(err)
		}
		at := day.Add(time.Duration(6*60+r) * time.Minute)
		spent := decimal.Zero
		for j := 0; j < journeys; j++ {
			from := stations[rng.Intn(len(stations))]
			to := stations[rng.Intn(len(stations))]
			for to == from {
				to = stations[rng.Intn(len(stations))]
			}
			for _, step := range []struct {
				kind proto.Kind
				site string
			}{{proto.KindMetroEntry, from}, {proto.KindMetroExit, to}} {
				dev := step.site + "-g01"
				tap := proto.Tap{EventID: proto.NewEventID(at), Device: dev, Site: step.site, Kind: step.kind,
					Assertion: fmt.Sprintf("%s.c%dj%d%s.%s", sub, r, j, step.kind[6:8], dev), CapturedAt: proto.At(at)}
				b, err := tap.Encode()
				if err != nil {
					t.Fatal(err)
				}
				plans[r] = append(plans[r], delivery{proto.Topics{}.Taps(step.site, dev), b})
				at = at.Add(17 * time.Minute)
			}
			q, err := fares.Price(from, to)
			if err != nil {
				t.Fatal(err)
			}
			c := fares.Cap("hn2a", "adult", spent, spent, q.Amount)
			spent = spent.Add(c.Charge)
		}
		want[sub] = money.Dong(200000).Sub(spent)
	}
	var late []delivery
	var lateMu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, riders*journeys*8)
	for r := 0; r < riders; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(r)))
			for _, d := range plans[r] {
				// One to three copies at once, on either replica.
				copies := 1 + rng.Intn(3)
				var cw sync.WaitGroup
				for c := 0; c < copies; c++ {
					cw.Add(1)
					go func(p *admission.Processor) {
						defer cw.Done()
						if _, err := p.Handle(ctx, d.topic, d.payload); err != nil {
							errs <- err
						}
					}(procs[rng.Intn(2)])
				}
				cw.Wait()
				if rng.Intn(4) == 0 {
					lateMu.Lock()
					late = append(late, d)
					lateMu.Unlock()
				}
			}
		}(r)
	}
	wg.Wait()
	// Redeliveries long after: each must get the stored decision, dup.
	for i, d := range late {
		rep, err := procs[i%2].Handle(ctx, d.topic, d.payload)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Dup {
			t.Errorf("late redelivery decided as new")
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for sub, w := range want {
		a, err := stores[0].Account(ctx, ledger.Rider(sub))
		if err != nil {
			t.Fatal(err)
		}
		if !a.Balance.Equal(w) {
			t.Errorf("%s: balance %s, want %s", sub, money.Format(a.Balance), money.Format(w))
		}
	}
	var taps, journeysN int
	stores[0].Pool().QueryRow(ctx, "SELECT count(*) FROM taps WHERE subject LIKE 'vn_conc_%'").Scan(&taps)
	stores[0].Pool().QueryRow(ctx, "SELECT count(*) FROM journeys WHERE subject LIKE 'vn_conc_%' AND status = 'closed'").Scan(&journeysN)
	if taps != riders*journeys*2 || journeysN != riders*journeys {
		t.Errorf("%d taps and %d journeys recorded, want %d and %d", taps, journeysN, riders*journeys*2, riders*journeys)
	}
	b, err := stores[0].Books(ctx)
	if err != nil || !b.Balanced() {
		t.Errorf("books: %+v %v", b, err)
	}
	st := stores[0].BatchStats()
	t.Logf("store 1: %d taps in %d batches, %d batches retried tap by tap", st.Items, st.Batches, st.Fallbacks)
}
