// Package rail owns national-rail gates (Hanoi Railway Station): the
// stations and gates that admit train tickets, the tickets themselves as
// entitlements bound to a rider's pseudonymous VNeID subject by the partner
// that sold them, and the decision at a gate. Rail gates are not priced: a
// ticket was paid for where it was bought, and a gate charges nothing.
package rail

import (
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/vnpass/vnpass/proto"
)

//go:embed data/*.csv
var shipped embed.FS

// Station is a rail station whose gates check tickets.
type Station struct {
	Site   string // the gates' site id in taps
	Code   string // the station code printed on tickets (origin, destination)
	NameVI string
	NameEN string
	// A ticket opens the gate from Before its train's departure until
	// After it (a rider running for a train that is still boarding).
	Before, After time.Duration
}

// Network is the rail stations and gates the platform knows.
type Network struct {
	stations map[string]Station // by site
	gates    map[string]string  // device -> site
}

// Shipped loads the rail configuration shipped in data/ (Hanoi Station).
func Shipped() (*Network, error) {
	sub, err := fs.Sub(shipped, "data")
	if err != nil {
		return nil, err
	}
	return Load(sub)
}

// Load reads stations.csv and gates.csv from fsys. Errors name the file
// and line.
func Load(fsys fs.FS) (*Network, error) {
	n := &Network{stations: map[string]Station{}, gates: map[string]string{}}
	err := readCSV(fsys, "stations.csv", []string{"site_id", "code", "name_vi", "name_en", "admit_before_min", "admit_after_min"}, func(rec []string) error {
		s := Station{Site: rec[0], Code: rec[1], NameVI: rec[2], NameEN: rec[3]}
		if err := proto.CheckID(s.Site); err != nil {
			return fmt.Errorf("site_id: %w", err)
		}
		if !validCode(s.Code) {
			return fmt.Errorf("code %q: want 2-8 upper-case letters or digits", s.Code)
		}
		if s.NameVI == "" || s.NameEN == "" {
			return errors.New("name_vi and name_en are required")
		}
		var err error
		if s.Before, err = minutes(rec[4], 0, 24*60); err != nil {
			return fmt.Errorf("admit_before_min: %w", err)
		}
		if s.After, err = minutes(rec[5], 0, 120); err != nil {
			return fmt.Errorf("admit_after_min: %w", err)
		}
		if _, dup := n.stations[s.Site]; dup {
			return fmt.Errorf("site %s listed twice", s.Site)
		}
		for _, o := range n.stations {
			if o.Code == s.Code {
				return fmt.Errorf("code %s listed twice", s.Code)
			}
		}
		n.stations[s.Site] = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = readCSV(fsys, "gates.csv", []string{"device_id", "site_id"}, func(rec []string) error {
		if err := proto.CheckID(rec[0]); err != nil {
			return fmt.Errorf("device_id: %w", err)
		}
		if _, ok := n.stations[rec[1]]; !ok {
			return fmt.Errorf("site_id %q is not in stations.csv", rec[1])
		}
		if _, dup := n.gates[rec[0]]; dup {
			return fmt.Errorf("device %s listed twice", rec[0])
		}
		n.gates[rec[0]] = rec[1]
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(n.stations) == 0 {
		return nil, errors.New("rail: stations.csv lists no station")
	}
	return n, nil
}

// Gate returns the station of a rail gate, if the device is one at site.
func (n *Network) Gate(device, site string) (Station, bool) {
	s, ok := n.gates[device]
	if !ok || s != site {
		return Station{}, false
	}
	return n.stations[s], true
}

// StationAt returns the station whose gates have site id site.
func (n *Network) StationAt(site string) (Station, bool) {
	s, ok := n.stations[site]
	return s, ok
}

// Station returns the station with a ticket code.
func (n *Network) Station(code string) (Station, bool) {
	for _, s := range n.stations {
		if s.Code == code {
			return s, true
		}
	}
	return Station{}, false
}

func validCode(c string) bool {
	if len(c) < 2 || len(c) > 8 {
		return false
	}
	for _, r := range c {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func minutes(s string, lo, hi int) (time.Duration, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%q: want whole minutes %d-%d", s, lo, hi)
	}
	return time.Duration(v) * time.Minute, nil
}

// readCSV reads name with its header (lines starting with # are comments)
// and calls row for each record; errors carry name:line.
func readCSV(fsys fs.FS, name string, header []string, row func([]string) error) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("rail: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	r.FieldsPerRecord = len(header)
	first := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("rail: %s:%d: %v", name, pe.Line, pe.Err)
			}
			return fmt.Errorf("rail: %s: %w", name, err)
		}
		// Only after a record was read: FieldPos panics when the read failed.
		line, _ := r.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if first {
			first = false
			if strings.Join(rec, ",") != strings.Join(header, ",") {
				return fmt.Errorf("rail: %s:%d: header %q, want %q", name, line, strings.Join(rec, ","), strings.Join(header, ","))
			}
			continue
		}
		if err := row(rec); err != nil {
			return fmt.Errorf("rail: %s:%d: %w", name, line, err)
		}
	}
	if first {
		return fmt.Errorf("rail: %s: empty, want the header %q", name, strings.Join(header, ","))
	}
	return nil
}
