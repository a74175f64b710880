package sustain

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Curve is the shape of the tap rate over a run.
type Curve string

const (
	// Flat sends at the rate for the whole run.
	Flat Curve = "flat"
	// Peak is a morning rush: the rate climbs from 30 % of the peak to the
	// peak over the first third, holds it over the second and eases down
	// to half of it over the last.
	Peak Curve = "peak"
)

// ParseCurve reads a -curve flag.
func ParseCurve(s string) (Curve, error) {
	switch c := Curve(s); c {
	case Flat, Peak:
		return c, nil
	}
	return "", fmt.Errorf("sustain: curve %q: want flat or peak", s)
}

// factor is the share of the peak rate at x, the elapsed share of the run.
func (c Curve) factor(x float64) float64 {
	if c != Peak {
		return 1
	}
	switch {
	case x < 1.0/3:
		// Smooth climb: 0.3 -> 1 (a half cosine, so that the rate does
		// not jump at the ends of the ramp).
		return 0.3 + 0.7*(1-math.Cos(math.Pi*3*x))/2
	case x < 2.0/3:
		return 1
	default:
		return 1 - 0.5*(1-math.Cos(math.Pi*3*(x-2.0/3)))/2
	}
}

// PeakWindow is the busiest stretch of a run of length d, as offsets from
// its start: the middle third for Peak, the whole run for Flat.
func (c Curve) PeakWindow(d time.Duration) (from, to time.Duration) {
	if c != Peak {
		return 0, d
	}
	return d / 3, 2 * d / 3
}

// Slot is one scheduled tap: which rider makes it and which step of the
// rider's plan it is.
type Slot struct {
	Rider int32
	Step  int16
}

// Schedule is a run's taps, decided before it starts (so that assertions
// can be minted ahead): when each tap is due and who makes it.
type Schedule struct {
	Due    []time.Duration // from the start, ascending
	Slots  []Slot
	Riders int // riders who start a trip in the run
}

// NewSchedule lays out taps at rate (the peak rate for Peak) shaped by the
// curve for d. Every rider makes steps(rider) taps, in order, at least gap
// apart, and then leaves: at each tap's time the rider waiting longest
// whose next tap is due makes it; if none is due, a new rider arrives. A
// rider still inside at the end of the run leaves a trip unfinished, as
// in a real morning.
func NewSchedule(rate int, d time.Duration, c Curve, gap time.Duration, steps func(rider int) int) (*Schedule, error) {
	if rate <= 0 || d <= 0 {
		return nil, errors.New("sustain: schedule needs a rate and a duration")
	}
	if gap <= 0 {
		return nil, errors.New("sustain: schedule needs a gap between a rider's taps")
	}
	s := &Schedule{}
	type waiting struct {
		ready time.Duration
		rider int32
		step  int16
	}
	// Every rider waits the same gap, so riders become due in the order
	// they tapped: a FIFO is the queue by readiness.
	var queue []waiting
	head := 0
	peak := float64(rate)
	for t := time.Duration(0); t < d; {
		var slot Slot
		if head < len(queue) && queue[head].ready <= t {
			w := queue[head]
			head++
			slot = Slot{Rider: w.rider, Step: w.step}
		} else {
			slot = Slot{Rider: int32(s.Riders)}
			s.Riders++
		}
		s.Due = append(s.Due, t)
		s.Slots = append(s.Slots, slot)
		if n := steps(int(slot.Rider)); int(slot.Step)+1 < n {
			queue = append(queue, waiting{ready: t + gap, rider: slot.Rider, step: slot.Step + 1})
		}
		if head > 4096 && head*2 > len(queue) {
			queue = append(queue[:0], queue[head:]...)
			head = 0
		}
		t += time.Duration(float64(time.Second) / (peak * c.factor(float64(t)/float64(d))))
	}
	return s, nil
}
