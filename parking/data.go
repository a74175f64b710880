package parking

import (
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

//go:embed data/*.csv
var shipped embed.FS

// ShippedData is the lots and tariffs shipped with vnpass (data/).
func ShippedData() fs.FS {
	sub, err := fs.Sub(shipped, "data")
	if err != nil {
		panic(err)
	}
	return sub
}

// Shipped loads the shipped lots and tariffs.
func Shipped() (*Catalogue, error) { return Load(ShippedData()) }

// Catalogue is every lot and tariff loaded from one data folder.
type Catalogue struct {
	lots    map[string]*Lot
	order   []string
	tariffs map[string]*Tariff
}

// Lot returns the lot with id.
func (c *Catalogue) Lot(id string) (*Lot, bool) { l, ok := c.lots[id]; return l, ok }

// Lots lists the lots in id order.
func (c *Catalogue) Lots() []*Lot {
	out := make([]*Lot, len(c.order))
	for i, id := range c.order {
		out[i] = c.lots[id]
	}
	return out
}

// Tariff returns the tariff with id.
func (c *Catalogue) Tariff(id string) (*Tariff, bool) { t, ok := c.tariffs[id]; return t, ok }

// Load reads tariffs.csv and lots.csv from dir. Every error names the file
// and line at fault.
func Load(dir fs.FS) (*Catalogue, error) {
	c := &Catalogue{lots: map[string]*Lot{}, tariffs: map[string]*Tariff{}}
	if err := readCSV(dir, "tariffs.csv", []string{"tariff_id", "city", "vehicle_class", "rule", "start", "end", "value", "source"}, c.addTariffRow); err != nil {
		return nil, err
	}
	for id, t := range c.tariffs {
		if len(t.Turns) == 0 && len(t.Hourly) == 0 {
			return nil, fmt.Errorf("tariffs.csv: tariff %s has neither turns nor hourly bands", id)
		}
		if len(t.Turns) > 0 && len(t.Hourly) > 0 {
			return nil, fmt.Errorf("tariffs.csv: tariff %s mixes turns and hourly bands", id)
		}
		if len(t.Hourly) > 0 && t.Per24h.IsPositive() {
			return nil, fmt.Errorf("%s: per_24h applies to turn tariffs only", t.Per24Row)
		}
		sort.Slice(t.Hourly, func(i, j int) bool { return t.Hourly[i].From < t.Hourly[j].From })
		next := 1
		for i, b := range t.Hourly {
			if b.From != next {
				return nil, fmt.Errorf("%s: hourly bands of %s must follow on from hour %d", b.Row, id, next)
			}
			if b.To == 0 && i != len(t.Hourly)-1 {
				return nil, fmt.Errorf("%s: an open-ended band must be the last", b.Row)
			}
			next = b.To + 1
		}
		if n := len(t.Hourly); n > 0 && t.Hourly[n-1].To != 0 {
			return nil, fmt.Errorf("%s: the last hourly band of %s must be open-ended (no end)", t.Hourly[n-1].Row, id)
		}
	}
	if err := readCSV(dir, "lots.csv", []string{"lot_id", "operator_id", "city", "name", "address", "lat", "lon", "opens", "closes",
		"motorbike_tariff", "car_tariff", "large_tariff", "motorbike_capacity", "car_capacity", "large_capacity"}, c.addLotRow); err != nil {
		return nil, err
	}
	sort.Strings(c.order)
	return c, nil
}

// readCSV calls row for each record with its "file:line" and columns by name.
func readCSV(dir fs.FS, name string, want []string, row func(at string, col map[string]string) error) error {
	f, err := dir.Open(name)
	if err != nil {
		return fmt.Errorf("parking data: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s:1: header: %v", name, err)
	}
	idx := map[string]int{}
	for i, h := range head {
		idx[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, w := range want {
		if _, ok := idx[w]; !ok {
			return fmt.Errorf("%s:1: column %q missing", name, w)
		}
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			// FieldPos panics when the read failed: the line is the error's.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("%s:%d: %v", name, pe.StartLine, pe.Err)
			}
			return fmt.Errorf("%s: %v", name, err)
		}
		line, _ := r.FieldPos(0)
		at := fmt.Sprintf("%s:%d", name, line)
		col := make(map[string]string, len(want))
		for _, w := range want {
			col[w] = strings.TrimSpace(rec[idx[w]])
		}
		if err := row(at, col); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
	}
}

func (c *Catalogue) addTariffRow(at string, col map[string]string) error {
	id, class := col["tariff_id"], Class(col["vehicle_class"])
	if id == "" {
		return errors.New("tariff_id missing")
	}
	if !class.Valid() {
		return fmt.Errorf("vehicle_class %q: want motorbike, car or large", class)
	}
	t := c.tariffs[id]
	if t == nil {
		t = &Tariff{ID: id, City: col["city"], Class: class}
		c.tariffs[id] = t
	} else if t.Class != class || t.City != col["city"] {
		return fmt.Errorf("tariff %s: city and vehicle_class differ from its first row", id)
	}
	val, err := decimal.NewFromString(col["value"])
	if err != nil || val.IsNegative() || !val.IsInteger() {
		return fmt.Errorf("value %q: want a whole non-negative number", col["value"])
	}
	switch col["rule"] {
	case "grace":
		if val.GreaterThan(decimal.NewFromInt(240)) {
			return fmt.Errorf("grace of %s minutes: at most 240", val)
		}
		t.Grace, t.GraceRow = time.Duration(val.IntPart())*time.Minute, at
	case "turn":
		s, err1 := clock(col["start"])
		e, err2 := clock(col["end"])
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if s == e%(24*60) {
			return errors.New("a turn needs start and end apart")
		}
		t.Turns = append(t.Turns, Turn{Start: s, End: e % (24 * 60), Price: val, Row: at})
	case "per_24h":
		t.Per24h, t.Per24Row = val, at
	case "hourly":
		from, err := strconv.Atoi(col["start"])
		if err != nil || from < 1 {
			return fmt.Errorf("start %q: want the first hour of the band (1, 3, 5)", col["start"])
		}
		to := 0
		if col["end"] != "" {
			if to, err = strconv.Atoi(col["end"]); err != nil || to < from {
				return fmt.Errorf("end %q: want the last hour of the band, or empty for every hour after", col["end"])
			}
		}
		t.Hourly = append(t.Hourly, Band{From: from, To: to, PerHour: val, Row: at})
	case "month":
		t.Month, t.MonthRow = val, at
	default:
		return fmt.Errorf("rule %q: want grace, turn, per_24h, hourly or month", col["rule"])
	}
	return nil
}

func (c *Catalogue) addLotRow(at string, col map[string]string) error {
	id := col["lot_id"]
	if !validID(id) {
		return fmt.Errorf("lot_id %q: want 1-64 of a-z, 0-9, '-', '_', '.'", id)
	}
	if _, dup := c.lots[id]; dup {
		return fmt.Errorf("lot %s listed twice", id)
	}
	if col["operator_id"] == "" || col["name"] == "" {
		return errors.New("operator_id and name are required")
	}
	l := &Lot{ID: id, Operator: col["operator_id"], City: col["city"], Name: col["name"], Address: col["address"],
		Capacity: map[Class]int{}, Tariffs: map[Class]*Tariff{}, Row: at}
	var err error
	if l.Lat, err = strconv.ParseFloat(col["lat"], 64); err != nil || math.Abs(l.Lat) > 90 {
		return fmt.Errorf("lat %q: want degrees", col["lat"])
	}
	if l.Lon, err = strconv.ParseFloat(col["lon"], 64); err != nil || math.Abs(l.Lon) > 180 {
		return fmt.Errorf("lon %q: want degrees", col["lon"])
	}
	if l.Opens, err = clock(col["opens"]); err != nil {
		return err
	}
	if l.Closes, err = clock(col["closes"]); err != nil {
		return err
	}
	for _, cl := range Classes {
		n, err := strconv.Atoi(col[string(cl)+"_capacity"])
		if err != nil || n < 0 {
			return fmt.Errorf("%s_capacity %q: want a count", cl, col[string(cl)+"_capacity"])
		}
		tid := col[string(cl)+"_tariff"]
		if tid == "" {
			if n > 0 {
				return fmt.Errorf("%d %s spaces but no %s_tariff", n, cl, cl)
			}
			continue
		}
		t, ok := c.tariffs[tid]
		if !ok {
			return fmt.Errorf("%s_tariff %q not in tariffs.csv", cl, tid)
		}
		if t.Class != cl {
			return fmt.Errorf("%s_tariff %q is a %s tariff", cl, tid, t.Class)
		}
		l.Capacity[cl], l.Tariffs[cl] = n, t
	}
	c.lots[id] = l
	c.order = append(c.order, id)
	return nil
}

// clock parses "HH:MM" (00:00-24:00) to minutes.
func clock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("time %q: want HH:MM from 00:00 to 24:00", s)
	}
	return hh*60 + mm, nil
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (c == '-' || c == '_' || c == '.') && i > 0) {
			return false
		}
	}
	return true
}
