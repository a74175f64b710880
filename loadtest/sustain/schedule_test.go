package sustain

import (
	"math"
	"testing"
	"time"
)

// A flat schedule sends at the rate, every rider's taps in order and at
// least the gap apart, and a rider leaves once their steps are done.
func TestScheduleFlat(t *testing.T) {
	steps := func(r int) int { return []int{2, 4, 1}[r%3] }
	s, err := NewSchedule(500, 20*time.Second, Flat, 4*time.Second, steps)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Due); n != 10_000 {
		t.Errorf("%d taps, want 10,000", n)
	}
	last := map[int32]time.Duration{}
	next := map[int32]int16{}
	for i, sl := range s.Slots {
		if i > 0 && s.Due[i] < s.Due[i-1] {
			t.Fatalf("tap %d due before tap %d", i, i-1)
		}
		if sl.Step != next[sl.Rider] {
			t.Fatalf("rider %d made step %d, want %d", sl.Rider, sl.Step, next[sl.Rider])
		}
		if int(sl.Step) >= steps(int(sl.Rider)) {
			t.Fatalf("rider %d made step %d of %d", sl.Rider, sl.Step, steps(int(sl.Rider)))
		}
		if prev, ok := last[sl.Rider]; ok && s.Due[i]-prev < 4*time.Second {
			t.Fatalf("rider %d tapped %v after their last tap", sl.Rider, s.Due[i]-prev)
		}
		last[sl.Rider], next[sl.Rider] = s.Due[i], sl.Step+1
	}
	if len(last) != s.Riders {
		t.Errorf("%d riders tapped, schedule says %d", len(last), s.Riders)
	}
	// Riders who arrived early enough finished their trip.
	for r, at := range last {
		first := s.Due[0]
		for i, sl := range s.Slots {
			if sl.Rider == r {
				first = s.Due[i]
				break
			}
		}
		if first < 5*time.Second && int(next[r]) != steps(int(r)) {
			t.Errorf("rider %d arrived at %v and made %d of %d taps (last at %v)", r, first, next[r], steps(int(r)), at)
		}
	}
}

// A peak schedule climbs from 30 % of the rate, holds the rate over the
// middle third and eases to half of it.
func TestSchedulePeak(t *testing.T) {
	s, err := NewSchedule(1000, 30*time.Second, Peak, 4*time.Second, func(int) int { return 2 })
	if err != nil {
		t.Fatal(err)
	}
	perSecond := make([]int, 30)
	for _, d := range s.Due {
		perSecond[int(d/time.Second)]++
	}
	near := func(got, want int) bool { return math.Abs(float64(got-want)) <= float64(want)/10+2 }
	if !near(perSecond[0], 300) || !near(perSecond[15], 1000) || !near(perSecond[29], 500) {
		t.Errorf("taps in second 0, 15, 29: %d, %d, %d; want about 300, 1000, 500", perSecond[0], perSecond[15], perSecond[29])
	}
	for i := 1; i < 10; i++ {
		if perSecond[i] < perSecond[i-1]-2 {
			t.Errorf("the ramp falls at second %d: %v", i, perSecond[:10])
		}
	}
	from, to := Peak.PeakWindow(30 * time.Second)
	if from != 10*time.Second || to != 20*time.Second {
		t.Errorf("peak window %v-%v, want 10s-20s", from, to)
	}
	if f, tt := Flat.PeakWindow(30 * time.Second); f != 0 || tt != 30*time.Second {
		t.Errorf("flat peak window %v-%v, want the whole run", f, tt)
	}
	if _, err := ParseCurve("rush"); err == nil {
		t.Error("ParseCurve accepted an unknown curve")
	}
}
