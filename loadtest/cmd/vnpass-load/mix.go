package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/loadtest/sustain"
	"github.com/vnpass/vnpass/parking"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/rail"
	"github.com/vnpass/vnpass/services/vneidsim"
)

// tripKind is what a rider of the load does.
type tripKind int

const (
	tripMetro    tripKind = iota // entry at one station, exit at another
	tripTransfer                 // Line 2A <-> Line 3 through Cát Linh: four taps
	tripParking                  // a vehicle parked at a lot around a metro journey: four taps
	tripRail                     // one pass at a Hanoi Station gate on a bound ticket
)

func (k tripKind) String() string {
	return [...]string{"metro", "transfer", "parking", "rail"}[k]
}

func (k tripKind) steps() int {
	switch k {
	case tripTransfer, tripParking:
		return 4
	case tripRail:
		return 1
	}
	return 2
}

// concession is the VNeID attribute that makes a rider ride free.
type concession int

const (
	noConcession concession = iota
	childUnder6
	senior
	disabled
	meritorious
)

// Cát Linh: the Line 2A / Line 3 interchange of the fare data's transfer rule.
const (
	catLinh2A = "hn2a-cat-linh"
	catLinh3  = "hn3-cat-linh"
	// railSite is Hanoi Station, whose gates admit bound train tickets.
	railSite = "ga-ha-noi"
)

// mix decides, for each rider number, the rider's trip and concession:
// deterministically (a low-discrepancy sequence over the shares, so that
// every stretch of the run has the same mix), with the lots' capacity and
// a cap on rail tickets respected.
type mix struct {
	park, transfer, rail, concession float64
	railMax                          int
	gatesPer                         int
	networks                         []string            // sorted
	stations                         map[string][]string // by network
	lots                             map[string][]*parking.Lot
	railGates                        []string
	railSite                         string
	now                              time.Time

	kinds   []tripKind
	lotOf   []*parking.Lot // parking riders: their lot
	carOf   []bool
	room    map[string]int // lot/class: sessions left
	rails   int
	nextLot map[string]int
	demoted map[tripKind]int // riders made metro riders for want of room
	Counts  map[tripKind]int
}

func newMix(set *fare.Set, cat *parking.Catalogue, rn *rail.Network, gatesPer int, park, transfer, railShare, conc float64, railMax int, now time.Time) (*mix, error) {
	for _, v := range []float64{park, transfer, railShare, conc} {
		if v < 0 || v > 1 {
			return nil, fmt.Errorf("a share must be between 0 and 1, got %g", v)
		}
	}
	if park+transfer+railShare > 1 {
		return nil, fmt.Errorf("-park + -transfer + -rail = %g: more than every rider", park+transfer+railShare)
	}
	m := &mix{park: park, transfer: transfer, rail: railShare, concession: conc, railMax: railMax, gatesPer: gatesPer,
		stations: map[string][]string{}, lots: map[string][]*parking.Lot{}, room: map[string]int{}, nextLot: map[string]int{},
		demoted: map[tripKind]int{}, Counts: map[tripKind]int{}, now: now}
	for _, s := range set.Stops() {
		m.stations[s.NetworkID] = append(m.stations[s.NetworkID], s.ID)
	}
	for k := range m.stations {
		m.networks = append(m.networks, k)
	}
	sort.Strings(m.networks)
	// The lots open now, by city, with 80 % of their spaces for the run
	// (a session that started and did not end within the run keeps its
	// space): a full lot would measure refusals, not the platform.
	for _, l := range cat.Lots() {
		if !l.OpenAt(now) {
			continue
		}
		m.lots[l.City] = append(m.lots[l.City], l)
		for _, c := range []parking.Class{parking.Motorbike, parking.Car} {
			if l.Takes(c) {
				m.room[l.ID+"/"+string(c)] = l.Capacity[c] * 8 / 10
			}
		}
	}
	// Hanoi Station's gates, as the rail data names them (it has no
	// listing: the shipped names are probed).
	if _, ok := rn.StationAt(railSite); ok {
		m.railSite = railSite
		for g := 1; g < 100; g++ {
			if d := fmt.Sprintf("%s-g%02d", railSite, g); func() bool { _, ok := rn.Gate(d, railSite); return ok }() {
				m.railGates = append(m.railGates, d)
			}
		}
	}
	return m, nil
}

// frac is the fractional part of x.
func frac(x float64) float64 { return x - math.Floor(x) }

// kind returns rider i's trip, deciding riders in order as the schedule
// asks for them.
func (m *mix) kind(i int) tripKind {
	for len(m.kinds) <= i {
		m.decide(len(m.kinds))
	}
	return m.kinds[i]
}

// pick is a number in [0, n) for rider i and a purpose (salt), spread
// evenly and independently of i's residues: rider numbers are consecutive,
// and i % n for several n at once would send the riders of one network to
// a few of its stations and gates only.
func pick(i int, salt uint64, n int) int {
	z := uint64(i)*0x9e3779b97f4a7c15 + salt*0xbf58476d1ce4e5b9
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z % uint64(n))
}

func (m *mix) network(i int) string { return m.networks[pick(i, 1, len(m.networks))] }

func city(network string) string {
	if strings.HasPrefix(network, "hcm") {
		return "hcmc"
	}
	return "hanoi"
}

func (m *mix) decide(i int) {
	u := frac(float64(i) * 0.6180339887498949) // golden ratio: evenly spread
	k := tripMetro
	var lot *parking.Lot
	car := false
	switch {
	case u < m.park:
		c := city(m.network(i))
		lots := m.lots[c]
		car = i%5 == 0 // one parker in five comes by car
		class := parking.Motorbike
		if car {
			class = parking.Car
		}
		for n := 0; n < len(lots); n++ {
			l := lots[(m.nextLot[c]+n)%len(lots)]
			if key := l.ID + "/" + string(class); m.room[key] > 0 {
				m.room[key]--
				m.nextLot[c]++
				lot, k = l, tripParking
				break
			}
		}
		if k != tripParking {
			m.demoted[tripParking]++
		}
	case u < m.park+m.transfer:
		k = tripTransfer
		if m.stations["hn2a"] == nil || m.stations["hn3"] == nil {
			k = tripMetro
			m.demoted[tripTransfer]++
		}
	case u < m.park+m.transfer+m.rail:
		k = tripRail
		if m.rails >= m.railMax || len(m.railGates) == 0 {
			k = tripMetro
			m.demoted[tripRail]++
		} else {
			m.rails++
		}
	}
	m.kinds = append(m.kinds, k)
	m.lotOf = append(m.lotOf, lot)
	m.carOf = append(m.carOf, car)
	m.Counts[k]++
}

// concessionOf is rider i's concession, if any: children, seniors,
// disabled and meritorious riders in turn.
func (m *mix) concessionOf(i int) concession {
	if frac(float64(i)*0.7548776662466927) >= m.concession {
		return noConcession
	}
	return concession(1 + i%4)
}

// enrollment is rider i as VNeID knows them: an age and the attributes
// that decide the fare category.
func (m *mix) enrollment(i int) vneidsim.Enrollment {
	year := m.now.Year()
	age := 25 + i%30
	e := vneidsim.Enrollment{CCCD: fmt.Sprintf("0011%02d%06d", 90+i/1_000_000%9, i%1_000_000), FullName: "Nguyễn Văn Tải"}
	switch m.concessionOf(i) {
	case childUnder6:
		age = 4 // well away from 6 whatever the day of the run
	case senior:
		age = 68
	case disabled:
		e.Disabled = true
	case meritorious:
		e.Meritorious = true
	}
	// 15 January: the age above holds all year but the first two weeks,
	// where it is one less (4 or 24+, 67): still the same category.
	e.DateOfBirth = fmt.Sprintf("%d-01-15", year-age)
	return e
}

// plate is rider i's vehicle plate: unique per rider, of the shape the
// barriers' plate readers give (a motorbike's series is a letter and a
// digit, a car's letters only); Hanoi plates start 29/30, HCMC 59/51.
func plate(i int, car bool, city string) string {
	motorbike, carProv := "29", "30"
	if city == "hcmc" {
		motorbike, carProv = "59", "51"
	}
	series := string(rune('A' + i/100_000%20))
	if car {
		return fmt.Sprintf("%s%s-%03d.%02d", carProv, series, i/100%1000, i%100)
	}
	return fmt.Sprintf("%s%s%d-%03d.%02d", motorbike, series, 1+i/2_000_000%9, i/100%1000, i%100)
}

func (m *mix) gate(site string, entry bool, i int) sustain.Gate {
	dir, kind, salt := "in", proto.KindMetroEntry, uint64(10)
	if !entry {
		dir, kind, salt = "out", proto.KindMetroExit, 11
	}
	return sustain.Gate{Site: site, Device: fmt.Sprintf("%s-%s%02d", site, dir, pick(i, salt, m.gatesPer)+1), Kind: kind}
}

// pair picks two different stations of a network for rider i, avoiding
// avoid (Cát Linh, for a transfer's outer legs).
func (m *mix) pair(network string, i int, avoid string) (string, string) {
	var st []string
	for _, s := range m.stations[network] {
		if s != avoid {
			st = append(st, s)
		}
	}
	a := pick(i, 2, len(st))
	b := (a + 1 + pick(i, 3, len(st)-1)) % len(st)
	return st[a], st[b]
}

// steps is rider i's taps, in order.
func (m *mix) steps(i int) []sustain.Step {
	switch m.kind(i) {
	case tripTransfer:
		a, _ := m.pair("hn2a", i, catLinh2A)
		_, b := m.pair("hn3", i, catLinh3)
		s := []sustain.Step{{Gate: m.gate(a, true, i)}, {Gate: m.gate(catLinh2A, false, i)},
			{Gate: m.gate(catLinh3, true, i)}, {Gate: m.gate(b, false, i)}}
		if i%2 == 1 { // the other way: Line 3 into Cát Linh, then Line 2A
			s = []sustain.Step{{Gate: m.gate(b, true, i)}, {Gate: m.gate(catLinh3, false, i)},
				{Gate: m.gate(catLinh2A, true, i)}, {Gate: m.gate(a, false, i)}}
		}
		return s
	case tripParking:
		lot := m.lotOf[i]
		p := plate(i, m.carOf[i], lot.City)
		a, b := m.pair(m.network(i), i, "")
		return []sustain.Step{
			{Gate: sustain.Gate{Site: lot.ID, Device: fmt.Sprintf("%s-in%02d", lot.ID, pick(i, 4, m.gatesPer)+1), Kind: proto.KindParkingEntry}, Plate: p},
			{Gate: m.gate(a, true, i)}, {Gate: m.gate(b, false, i)},
			{Gate: sustain.Gate{Site: lot.ID, Device: fmt.Sprintf("%s-out%02d", lot.ID, pick(i, 5, m.gatesPer)+1), Kind: proto.KindParkingExit}, Plate: p},
		}
	case tripRail:
		return []sustain.Step{{Gate: sustain.Gate{Site: m.railSite, Device: m.railGates[pick(i, 6, len(m.railGates))], Kind: proto.KindRailGate}}}
	}
	a, b := m.pair(m.network(i), i, "")
	return []sustain.Step{{Gate: m.gate(a, true, i)}, {Gate: m.gate(b, false, i)}}
}

// summary says what the mix made of the riders.
func (m *mix) summary(n int) string {
	var conc [5]int
	for i := 0; i < n; i++ {
		conc[m.concessionOf(i)]++
	}
	s := fmt.Sprintf("%d metro, %d transfer (2A <-> 3 at Cát Linh), %d parking, %d rail; free-fare riders: %d children, %d seniors, %d disabled, %d meritorious",
		m.Counts[tripMetro], m.Counts[tripTransfer], m.Counts[tripParking], m.Counts[tripRail], conc[childUnder6], conc[senior], conc[disabled], conc[meritorious])
	for _, k := range []tripKind{tripParking, tripTransfer, tripRail} {
		if m.demoted[k] > 0 {
			s += fmt.Sprintf("; %d %s riders made metro riders (%s)", m.demoted[k], k, map[tripKind]string{
				tripParking: "the open lots' spaces are taken", tripTransfer: "no Line 2A/3 data", tripRail: fmt.Sprintf("at most %d tickets bound (-rail-max)", m.railMax)}[k])
		}
	}
	return s
}
