package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/rail"
)

// The mix gives each kind of rider about its share, trips the platform can
// price (a transfer through the two Cát Linh stops, plates of the right
// class, lots open and never over 80 % of their spaces, ticket counts
// capped) and free-fare riders by VNeID attributes.
func TestMix(t *testing.T) {
	set, err := fare.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	lots, err := parking.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	rn, err := rail.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 1, 30, 0, 0, time.UTC) // 08:30 in Hanoi: every lot open
	m, err := newMix(set, lots, rn, 2, 0.1, 0.1, 0.05, 0.2, 300, now)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20_000
	used := map[string]int{}
	for i := 0; i < n; i++ {
		steps := m.steps(i)
		if len(steps) != m.kind(i).steps() {
			t.Fatalf("rider %d (%s): %d steps", i, m.kind(i), len(steps))
		}
		switch m.kind(i) {
		case tripTransfer:
			if steps[1].Gate.Kind != proto.KindMetroExit || steps[2].Gate.Kind != proto.KindMetroEntry ||
				!strings.HasSuffix(steps[1].Gate.Site, "-cat-linh") || !strings.HasSuffix(steps[2].Gate.Site, "-cat-linh") ||
				steps[1].Gate.Site == steps[2].Gate.Site || steps[0].Gate.Site == steps[1].Gate.Site || steps[2].Gate.Site == steps[3].Gate.Site {
				t.Fatalf("rider %d: transfer %+v", i, steps)
			}
		case tripParking:
			lot, ok := lots.Lot(steps[0].Gate.Site)
			if !ok || !lot.OpenAt(now) || steps[0].Gate.Kind != proto.KindParkingEntry || steps[3].Gate.Kind != proto.KindParkingExit ||
				steps[0].Plate != steps[3].Plate {
				t.Fatalf("rider %d: parking %+v", i, steps)
			}
			class, err := parking.ClassOf(steps[0].Plate)
			if err != nil || (class == parking.Car) != m.carOf[i] {
				t.Fatalf("rider %d: plate %q is %v (%v), car %v", i, steps[0].Plate, class, err, m.carOf[i])
			}
			used[lot.ID+"/"+string(class)]++
		case tripRail:
			if _, ok := rn.Gate(steps[0].Gate.Device, steps[0].Gate.Site); !ok || steps[0].Gate.Kind != proto.KindRailGate {
				t.Fatalf("rider %d: rail gate %+v", i, steps[0].Gate)
			}
		}
	}
	for key, u := range used {
		id, class, _ := strings.Cut(key, "/")
		lot, _ := lots.Lot(id)
		if u > lot.Capacity[parking.Class(class)]*8/10 {
			t.Errorf("%s: %d sessions for %d spaces", key, u, lot.Capacity[parking.Class(class)])
		}
	}
	share := func(k tripKind) float64 { return float64(m.Counts[k]) / n }
	if math.Abs(share(tripTransfer)-0.1) > 0.01 || m.Counts[tripRail] != 300 || m.Counts[tripParking] == 0 || m.demoted[tripRail] == 0 {
		t.Errorf("mix: %v, demoted %v", m.Counts, m.demoted)
	}
	free := 0
	for i := 0; i < n; i++ {
		e := m.enrollment(i)
		dob, err := time.Parse("2006-01-02", e.DateOfBirth)
		if err != nil {
			t.Fatal(err)
		}
		age := now.Year() - dob.Year()
		switch m.concessionOf(i) {
		case childUnder6:
			free++
			if age >= 6 {
				t.Errorf("child of %d", age)
			}
		case senior:
			free++
			if age < 60 {
				t.Errorf("senior of %d", age)
			}
		case disabled, meritorious:
			free++
			if !e.Disabled && !e.Meritorious {
				t.Error("a disabled or meritorious rider enrolled without the attribute")
			}
		default:
			if age < 18 || age >= 60 || e.Disabled || e.Meritorious {
				t.Errorf("adult rider %d: age %d, %+v", i, age, e)
			}
		}
	}
	if math.Abs(float64(free)/n-0.2) > 0.01 {
		t.Errorf("%d free-fare riders of %d, want about 20 %%", free, n)
	}
}
