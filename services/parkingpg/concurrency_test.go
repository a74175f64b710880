package parkingpg_test

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/proto"
)

// TestConcurrentEntriesNeverOverfill: 12 motorbikes race for 3 spaces
// through two entry barriers, every tap delivered 1-3 times at once: exactly
// 3 sessions open, every copy of a tap gets the same bytes, then they all
// leave, each charged once.
func TestConcurrentEntriesNeverOverfill(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const riders = 12
	type sent struct {
		dev string
		b   []byte
	}
	var taps []sent
	now := f.clock.Now()
	for i := 0; i < riders; i++ {
		sub := fmt.Sprintf("vn_r%02d", i)
		f.rider(sub, 50_000)
		dev := fmt.Sprintf("hnp-test-in%d", i%2+1)
		tp := proto.Tap{EventID: proto.NewEventID(now), Device: dev, Site: "hnp-test", Kind: proto.KindParkingEntry,
			Assertion: token(sub, "jti-"+sub, dev), CapturedAt: proto.At(now), Plate: fmt.Sprintf("29B1-%03d.%02d", 100+i, i)}
		b, err := tp.Encode()
		if err != nil {
			t.Fatal(err)
		}
		taps = append(taps, sent{dev, b})
	}
	answers := make([][][]byte, riders)
	var mu sync.Mutex
	var wg sync.WaitGroup
	rng := rand.New(rand.NewSource(6))
	for i, s := range taps {
		for n := 1 + rng.Intn(3); n > 0; n-- {
			wg.Add(1)
			go func(i int, s sent) {
				defer wg.Done()
				r, err := f.h.Handle(ctx, f.topics.Taps("hnp-test", s.dev), s.b)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				answers[i] = append(answers[i], r.Payload)
				mu.Unlock()
			}(i, s)
		}
	}
	wg.Wait()
	opened := 0
	for i, as := range answers {
		for _, a := range as[1:] {
			if !reflect.DeepEqual(a, as[0]) {
				t.Fatalf("rider %d: copies answered differently:\n%s\n%s", i, as[0], a)
			}
		}
		d, err := proto.DecodeDecision(as[0])
		if err != nil {
			t.Fatal(err)
		}
		switch d.Reason {
		case proto.ReasonOK:
			opened++
		case proto.ReasonLotFull:
		default:
			t.Errorf("rider %d: %s", i, d.Reason)
		}
	}
	occ, err := f.store.Occupancy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if opened != 3 || occ["hnp-test"][parking.Motorbike] != 3 {
		t.Fatalf("%d opened, occupancy %v; want 3 of 3", opened, occ)
	}
	var n int
	if err := f.store.Pool().QueryRow(ctx, "SELECT count(*) FROM parking_taps").Scan(&n); err != nil || n != riders {
		t.Fatalf("%d taps recorded, want %d", n, riders)
	}
}

// TestOfflineTapsHonoured: what a barrier decided by itself is settled as it
// arrives: an offline entry opens a session even in a full lot, an offline
// exit closes it at its fee whatever the plate, a refused one is recorded.
func TestOfflineTapsHonoured(t *testing.T) {
	f := newFixture(t)
	f.clock.Set(local(24, 12, 0))
	ctx := context.Background()
	for i, p := range []string{"29B1-111.11", "29B1-222.22", "29B1-333.33"} {
		sub := fmt.Sprintf("vn_o%d", i)
		f.rider(sub, 50_000)
		want(t, "fill", f.tap(proto.KindParkingEntry, sub, p), proto.ReasonOK)
	}
	f.rider("vn_off", 50_000)
	offline := func(kind proto.Kind, plate string, open bool, reason proto.Reason, age time.Duration) proto.Decision {
		t.Helper()
		dev := "hnp-test-in1"
		if kind == proto.KindParkingExit {
			dev = "hnp-test-out1"
		}
		at := f.clock.Now().Add(-age)
		tp := proto.Tap{EventID: proto.NewEventID(at), Device: dev, Site: "hnp-test", Kind: kind,
			Assertion: token("vn_off", "jti-"+proto.NewEventID(at), dev), CapturedAt: proto.At(at), Plate: plate,
			Offline: &proto.OfflineDecision{Open: open, Reason: reason, Rule: "verified", DecidedAt: proto.At(at)}}
		b, err := tp.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return f.send(dev, b)
	}
	// Captured at 09:00, while the barrier was offline: the lot was full.
	want(t, "offline entry", offline(proto.KindParkingEntry, "29B1-444.44", true, proto.ReasonOK, 3*time.Hour), proto.ReasonOK)
	occ, _ := f.store.Occupancy(ctx)
	if occ["hnp-test"][parking.Motorbike] != 4 {
		t.Fatalf("occupancy %v: the vehicle the barrier let in is inside", occ)
	}
	d := offline(proto.KindParkingExit, "", true, proto.ReasonOK, time.Hour) // 2 hours by day
	want(t, "offline exit", d, proto.ReasonOK)
	if *d.FareVND != 5000 || f.balance("vn_off") != 45000 {
		t.Fatalf("offline exit %+v balance %d", d, f.balance("vn_off"))
	}
	want(t, "offline refusal", offline(proto.KindParkingEntry, "", false, proto.ReasonNoPlate, time.Minute), proto.ReasonNoPlate)
	want(t, "offline exit with no session", offline(proto.KindParkingExit, "", true, proto.ReasonOK, 0), proto.ReasonOK)
	if f.balance("vn_off") != 45000 {
		t.Fatal("charged for an exit with no session")
	}
	// Online taps older than the barrier's timeout are refused.
	now := f.clock.Now().Add(-3 * time.Second)
	tp := proto.Tap{EventID: proto.NewEventID(now), Device: "hnp-test-in1", Site: "hnp-test", Kind: proto.KindParkingEntry,
		Assertion: token("vn_off", "jti-old", "hnp-test-in1"), CapturedAt: proto.At(now), Plate: "29B1-444.44"}
	b, _ := tp.Encode()
	want(t, "too old", f.send("hnp-test-in1", b), proto.ReasonTapTooOld)
}
