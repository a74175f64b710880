// Package parking owns parking lots, their barriers' sessions (face and
// plate), city tariffs as data and occupancy. It is pure: lots and tariffs
// are loaded from CSV files (data/ holds the shipped Hanoi and HCMC ones),
// quotes name the data row behind every amount, and the barrier rules
// (Entry, Exit) decide from state a store reads and locks.
package parking

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Zone is local time in Hanoi and Ho Chi Minh City (UTC+7, no DST): the
// day and night windows of tariffs are local times.
var Zone = time.FixedZone("ICT", 7*3600)

// Class is a vehicle class: what a space, a capacity and a tariff are for.
type Class string

const (
	Motorbike Class = "motorbike"
	Car       Class = "car"   // up to 9 seats
	Large     Class = "large" // over 9 seats, trucks
)

// Classes lists the classes in a fixed order.
var Classes = []Class{Motorbike, Car, Large}

// Valid reports whether c is a known class.
func (c Class) Valid() bool { return c == Motorbike || c == Car || c == Large }

// ErrBadPlate: the plate is not a Vietnamese plate this package can read.
var ErrBadPlate = errors.New("parking: plate not recognised")

// NormalizePlate keeps the letters and digits of a plate as read, upper
// case, so that "30A-123.45" and "30A12345" are the same vehicle.
func NormalizePlate(p string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(p) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ClassOf tells the class of a vehicle from its plate as read: two digits
// of the province, then the series. A motorbike's series is a letter and a
// digit ("29B1-123.45", "29-B1 123.45", 29B112345); a car's is letters only
// ("30A-123.45", "51LD-001.23", 30A12345). Without a dash, six digits after
// the letters make a motorbike. A larger vehicle's plate looks like a car's:
// lots that take them have an attendant class them.
func ClassOf(plate string) (Class, error) {
	p := NormalizePlate(plate)
	if len(p) < 7 || len(p) > 10 || !digit(p[0]) || !digit(p[1]) || !letter(p[2]) {
		return "", fmt.Errorf("%w: %q", ErrBadPlate, plate)
	}
	if head, _, ok := strings.Cut(strings.ToUpper(plate), "-"); ok && NormalizePlate(head) != "" {
		head = NormalizePlate(head)
		if len(head) == 2 || digit(head[len(head)-1]) {
			return Motorbike, nil
		}
		return Car, nil
	}
	i := 2
	for i < len(p) && letter(p[i]) {
		i++
	}
	if len(p)-i == 6 {
		return Motorbike, nil
	}
	return Car, nil
}

func digit(c byte) bool  { return c >= '0' && c <= '9' }
func letter(c byte) bool { return c >= 'A' && c <= 'Z' }

// Lot is a parking lot. Its barriers are devices of kinds parking_entry and
// parking_exit whose site id is the lot's id.
type Lot struct {
	ID, Operator, City, Name, Address string
	Lat, Lon                          float64
	// Opens and Closes are local times of day in minutes; Opens 0 and
	// Closes 1440 is always open. Exits open at any hour.
	Opens, Closes int
	Capacity      map[Class]int
	Tariffs       map[Class]*Tariff // the tariff of each class the lot takes
	Row           string            // the data row, "lots.csv:3"
}

// OpenAt reports whether the lot takes entries at t.
func (l *Lot) OpenAt(t time.Time) bool {
	if l.Opens == 0 && l.Closes == 24*60 {
		return true
	}
	lt := t.In(Zone)
	m := lt.Hour()*60 + lt.Minute()
	if l.Opens <= l.Closes {
		return m >= l.Opens && m < l.Closes
	}
	return m >= l.Opens || m < l.Closes
}

// Takes reports whether the lot has spaces and a tariff for class c.
func (l *Lot) Takes(c Class) bool { return l.Capacity[c] > 0 && l.Tariffs[c] != nil }

// Occupancy is how many vehicles of each class are in a lot.
type Occupancy map[Class]int

// Free is the spaces left for c (never negative).
func (l *Lot) Free(o Occupancy, c Class) int {
	if f := l.Capacity[c] - o[c]; f > 0 {
		return f
	}
	return 0
}
