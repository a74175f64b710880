package fare

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// The GTFS files LoadGTFS reads.
const (
	fileNetworks      = "networks.txt"
	fileRiderCategory = "rider_categories.txt"
	fileFareMedia     = "fare_media.txt"
	fileFareProducts  = "fare_products.txt"
	fileStops         = "stops.txt"
	fileAreas         = "areas.txt"
	fileStopAreas     = "stop_areas.txt"
	fileFareLegRules  = "fare_leg_rules.txt"
)

const (
	currencyVND = "VND"
	// maxAmountDigits bounds an amount at under a trillion dong: far above any
	// fare, far below trouble.
	maxAmountDigits = 12
)

// LoadGTFS reads and validates GTFS Fares v2 files from fsys: the embedded
// HanoiData or an operator's directory (os.DirFS). Files are CSV with a
// header, UTF-8 with or without a byte order mark, LF or CRLF line ends.
//
// Required: networks.txt (with the vnpass column operator_id), stops.txt,
// areas.txt, stop_areas.txt, fare_products.txt, fare_leg_rules.txt.
// Optional: rider_categories.txt, fare_media.txt. Other files are ignored.
//
// Every error wraps ErrInvalidData; each *DataError names file, line and
// field. All problems of the first broken file are reported together.
//
// What this slice supports of Fares v2, and why the rest is refused rather
// than ignored (a silently ignored rule would misprice):
//   - fare_leg_rules.txt rows name network_id, from_area_id and to_area_id
//     explicitly; empty (wildcard) areas, timeframes and rule_priority are
//     rejected as not supported yet.
//   - a stop belongs to one area and an area is priced in one network; that
//     network is the stop's network.
//   - amounts are whole, non-negative VND (negative transfer discounts come
//     with fare_transfer_rules.txt).
//   - a fare product may have rows per rider category and fare medium, but
//     for one rider category all its media must cost the same.
func LoadGTFS(fsys fs.FS) (*Table, error) {
	l := &loader{
		fsys: fsys,
		t: &Table{
			networks: make(map[string]Network),
			stops:    make(map[string]Stop),
			rules:    make(map[odKey]legRule),
			bounds:   make(map[string]fareBounds),
		},
		categories: make(map[string]int),
		media:      make(map[string]int),
		products:   make(map[string][]productRow),
		areas:      make(map[string]int),
		stopArea:   make(map[string]int),
	}
	// Each file only refers to files read before it, so stopping at the
	// first broken file avoids a cascade of "unknown ..." errors.
	steps := []func(){
		l.readNetworks, l.readRiderCategories, l.readFareMedia, l.readFareProducts,
		l.readStops, l.readAreas, l.readStopAreas, l.readFareLegRules,
	}
	for _, step := range steps {
		step()
		if l.errs.failed() {
			return nil, l.errs.err()
		}
	}
	return l.t, nil
}

type loader struct {
	fsys fs.FS
	errs errList
	t    *Table

	categories map[string]int // rider_category_id -> line
	media      map[string]int // fare_media_id -> line
	products   map[string][]productRow
	areas      map[string]int // area_id -> line
	stopArea   map[string]int // stop_id -> line in stop_areas.txt
}

// productRow is one row of fare_products.txt; several rows may share a
// fare_product_id (one per rider category and fare medium).
type productRow struct {
	line     int
	category string
	media    string
	amount   decimal.Decimal
}

func (l *loader) fail(r row, field, value, reason string) {
	l.errs.add(r.file.name, r.line, field, value, reason)
}

// need returns the value of a required field, reporting it when empty.
func (l *loader) need(r row, field string) (string, bool) {
	v := r.get(field)
	if v == "" {
		l.fail(r, field, "", "missing value")
		return "", false
	}
	return v, true
}

// define records a new unique id, reporting duplicates.
func (l *loader) define(seen map[string]int, r row, field, id string) bool {
	if first, dup := seen[id]; dup {
		l.fail(r, field, id, fmt.Sprintf("duplicate, first defined at line %d", first))
		return false
	}
	seen[id] = r.line
	return true
}

// ref checks that an id is defined in another file.
func (l *loader) ref(r row, field, id, kind string, defined bool) bool {
	if !defined {
		l.fail(r, field, id, "unknown "+kind)
	}
	return defined
}

func (l *loader) readNetworks() {
	f := readFeedFile(l.fsys, fileNetworks, true, []string{"network_id", "operator_id"}, &l.errs)
	if f == nil {
		return
	}
	seen := make(map[string]int)
	for _, r := range f.rows {
		id, ok := l.need(r, "network_id")
		op, ok2 := l.need(r, "operator_id")
		if !ok || !ok2 || !l.define(seen, r, "network_id", id) {
			continue
		}
		l.t.networks[id] = Network{ID: id, Name: r.get("network_name"), OperatorID: op}
	}
}

func (l *loader) readRiderCategories() {
	f := readFeedFile(l.fsys, fileRiderCategory, false, []string{"rider_category_id", "rider_category_name"}, &l.errs)
	if f == nil {
		return
	}
	defaultLine := 0
	for _, r := range f.rows {
		id, ok := l.need(r, "rider_category_id")
		_, ok2 := l.need(r, "rider_category_name")
		if !ok || !ok2 || !l.define(l.categories, r, "rider_category_id", id) {
			continue
		}
		switch v := r.get("is_default_fare_category"); v {
		case "", "0":
		case "1":
			if defaultLine != 0 {
				l.fail(r, "is_default_fare_category", v, fmt.Sprintf("a second default category (first at line %d)", defaultLine))
				continue
			}
			defaultLine = r.line
			l.t.category = id
		default:
			l.fail(r, "is_default_fare_category", v, "must be 0, 1 or empty")
		}
	}
}

func (l *loader) readFareMedia() {
	f := readFeedFile(l.fsys, fileFareMedia, false, []string{"fare_media_id", "fare_media_type"}, &l.errs)
	if f == nil {
		return
	}
	for _, r := range f.rows {
		id, ok := l.need(r, "fare_media_id")
		typ, ok2 := l.need(r, "fare_media_type")
		if !ok || !ok2 {
			continue
		}
		// 0 none, 1 paper ticket, 2 transit card, 3 cEMV, 4 mobile app.
		if len(typ) != 1 || typ[0] < '0' || typ[0] > '4' {
			l.fail(r, "fare_media_type", typ, "must be 0, 1, 2, 3 or 4")
			continue
		}
		l.define(l.media, r, "fare_media_id", id)
	}
}

func (l *loader) readFareProducts() {
	f := readFeedFile(l.fsys, fileFareProducts, true, []string{"fare_product_id", "amount", "currency"}, &l.errs)
	if f == nil {
		return
	}
	type pk struct{ product, category, media string }
	seen := make(map[pk]int)
	for _, r := range f.rows {
		id, ok := l.need(r, "fare_product_id")
		if !ok {
			continue
		}
		p := productRow{line: r.line, category: r.get("rider_category_id"), media: r.get("fare_media_id")}
		if p.category != "" && !l.ref(r, "rider_category_id", p.category, "rider category", l.categories[p.category] != 0) {
			continue
		}
		if p.media != "" && !l.ref(r, "fare_media_id", p.media, "fare medium", l.media[p.media] != 0) {
			continue
		}
		cur, ok := l.need(r, "currency")
		if !ok {
			continue
		}
		if cur != currencyVND {
			l.fail(r, "currency", cur, "must be VND")
			continue
		}
		amount, reason := parseAmount(r.get("amount"))
		if reason != "" {
			l.fail(r, "amount", r.get("amount"), reason)
			continue
		}
		p.amount = amount
		key := pk{id, p.category, p.media}
		if first, dup := seen[key]; dup {
			l.fail(r, "fare_product_id", id, fmt.Sprintf("duplicate for rider category %q and fare medium %q, first at line %d", p.category, p.media, first))
			continue
		}
		seen[key] = r.line
		// Pricing does not choose a fare medium yet, so the media of one
		// product must agree on the price for each rider category.
		for _, q := range l.products[id] {
			if q.category == p.category && !q.amount.Equal(p.amount) {
				l.fail(r, "amount", r.get("amount"), fmt.Sprintf("differs from line %d for the same fare_product_id and rider category %q; pricing by fare medium is not supported yet", q.line, p.category))
				break
			}
		}
		l.products[id] = append(l.products[id], p)
	}
}

// parseAmount reads a GTFS currency amount in VND: a plain decimal number
// (no sign, exponent or separators) that is a whole number of dong. It returns
// a reason when the text is not one.
func parseAmount(s string) (decimal.Decimal, string) {
	if s == "" {
		return decimal.Decimal{}, "missing value"
	}
	digits, negative := strings.CutPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(digits, ".")
	if !allDigits(intPart) || (hasDot && !allDigits(frac)) {
		return decimal.Decimal{}, "not a number"
	}
	if negative {
		return decimal.Decimal{}, "negative amount"
	}
	if len(strings.TrimLeft(intPart, "0")) > maxAmountDigits {
		return decimal.Decimal{}, "amount too large"
	}
	d, err := decimal.NewFromString(digits)
	if err != nil {
		return decimal.Decimal{}, "not a number"
	}
	if !d.IsInteger() {
		return decimal.Decimal{}, "not a whole number of dong (VND has no minor unit)"
	}
	// One scale for every amount, so equal fares print alike.
	return d.Truncate(0), ""
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (l *loader) readStops() {
	f := readFeedFile(l.fsys, fileStops, true, []string{"stop_id", "stop_name"}, &l.errs)
	if f == nil {
		return
	}
	seen := make(map[string]int)
	for _, r := range f.rows {
		id, ok := l.need(r, "stop_id")
		name, ok2 := l.need(r, "stop_name")
		okLat := l.coordinate(r, "stop_lat", 90)
		okLon := l.coordinate(r, "stop_lon", 180)
		if !ok || !ok2 || !okLat || !okLon || !l.define(seen, r, "stop_id", id) {
			continue
		}
		l.t.stops[id] = Stop{ID: id, Name: name}
		l.t.stopOrder = append(l.t.stopOrder, id)
	}
}

// coordinate checks an optional WGS84 latitude or longitude.
func (l *loader) coordinate(r row, field string, limit float64) bool {
	v := r.get(field)
	if v == "" {
		return true
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || !(x >= -limit && x <= limit) {
		l.fail(r, field, v, fmt.Sprintf("must be a number from %g to %g", -limit, limit))
		return false
	}
	return true
}

func (l *loader) readAreas() {
	f := readFeedFile(l.fsys, fileAreas, true, []string{"area_id"}, &l.errs)
	if f == nil {
		return
	}
	for _, r := range f.rows {
		if id, ok := l.need(r, "area_id"); ok {
			l.define(l.areas, r, "area_id", id)
		}
	}
}

func (l *loader) readStopAreas() {
	f := readFeedFile(l.fsys, fileStopAreas, true, []string{"area_id", "stop_id"}, &l.errs)
	if f == nil {
		return
	}
	for _, r := range f.rows {
		area, ok := l.need(r, "area_id")
		stop, ok2 := l.need(r, "stop_id")
		if !ok || !ok2 {
			continue
		}
		okArea := l.ref(r, "area_id", area, "area", l.areas[area] != 0)
		s, known := l.t.stops[stop]
		if !l.ref(r, "stop_id", stop, "stop", known) || !okArea {
			continue
		}
		if first, dup := l.stopArea[stop]; dup {
			l.fail(r, "stop_id", stop, fmt.Sprintf("already in area %q at line %d; a stop belongs to one area", s.AreaID, first))
			continue
		}
		l.stopArea[stop] = r.line
		s.AreaID = area
		l.t.stops[stop] = s
	}
}

func (l *loader) readFareLegRules() {
	f := readFeedFile(l.fsys, fileFareLegRules, true,
		[]string{"network_id", "from_area_id", "to_area_id", "fare_product_id"}, &l.errs)
	if f == nil {
		return
	}
	type pk struct{ network, from, to, product string }
	type areaNetwork struct {
		network string
		line    int
	}
	seen := make(map[pk]int)
	areaNet := make(map[string]areaNetwork)
	defaultLine := make(map[odKey]int)

	for _, r := range f.rows {
		bad := false
		for _, field := range []string{"from_timeframe_group_id", "to_timeframe_group_id", "rule_priority"} {
			if v := r.get(field); v != "" {
				l.fail(r, field, v, "not supported yet")
				bad = true
			}
		}
		net, okNet := l.need(r, "network_id")
		if okNet {
			_, known := l.t.networks[net]
			okNet = l.ref(r, "network_id", net, "network", known)
		}
		from, okFrom := l.area(r, "from_area_id")
		to, okTo := l.area(r, "to_area_id")
		product, okProduct := l.need(r, "fare_product_id")
		if okProduct {
			okProduct = l.ref(r, "fare_product_id", product, "fare product", len(l.products[product]) > 0)
		}
		if bad || !okNet || !okFrom || !okTo || !okProduct {
			continue
		}

		key := pk{net, from, to, product}
		if first, dup := seen[key]; dup {
			l.fail(r, "", "", fmt.Sprintf("duplicate rule, first at line %d", first))
			continue
		}
		seen[key] = r.line

		// The network whose rules name a station's area is the station's
		// network: it decides which fare matrix and operator apply.
		conflict := false
		for _, a := range []struct{ field, area string }{{"from_area_id", from}, {"to_area_id", to}} {
			prev, ok := areaNet[a.area]
			if !ok {
				areaNet[a.area] = areaNetwork{net, r.line}
				continue
			}
			if prev.network != net {
				l.fail(r, a.field, a.area, fmt.Sprintf("area already priced in network %q at line %d; an area belongs to one network", prev.network, prev.line))
				conflict = true
			}
		}
		if conflict {
			continue
		}

		amount, applies := l.amountFor(product)
		if !applies {
			continue // a product for other rider categories; priced by later slices
		}
		od := odKey{net, from, to}
		if first, dup := defaultLine[od]; dup {
			l.fail(r, "", "", fmt.Sprintf("second fare for network %q from %q to %q (rider category %q), first at line %d", net, from, to, l.t.category, first))
			continue
		}
		defaultLine[od] = r.line
		rule := legRule{
			id:       fmt.Sprintf("%s:%d", fileFareLegRules, r.line),
			legGroup: r.get("leg_group_id"),
			product:  product,
			amount:   amount,
		}
		l.t.rules[od] = rule
		// File order breaks ties, so the same data always quotes the same product.
		b, ok := l.t.bounds[net]
		if !ok {
			b = fareBounds{min: rule, max: rule}
		}
		if rule.amount.LessThan(b.min.amount) {
			b.min = rule
		}
		if rule.amount.GreaterThan(b.max.amount) {
			b.max = rule
		}
		l.t.bounds[net] = b
	}
	if l.errs.failed() {
		return
	}
	for id, s := range l.t.stops {
		an, ok := areaNet[s.AreaID]
		if s.AreaID == "" || !ok {
			continue
		}
		s.NetworkID = an.network
		s.OperatorID = l.t.networks[an.network].OperatorID
		l.t.stops[id] = s
	}
}

// area reads a from_area_id or to_area_id, which this slice requires.
func (l *loader) area(r row, field string) (string, bool) {
	v := r.get(field)
	if v == "" {
		l.fail(r, field, "", "missing value (empty areas, which match any area, are not supported yet)")
		return "", false
	}
	return v, l.ref(r, field, v, "area", l.areas[v] != 0)
}

// amountFor resolves a product's amount for the default rider category: a row
// for that category wins over a row for any category (empty rider_category_id).
// readFareProducts has ensured the rows of one category agree on the amount.
func (l *loader) amountFor(product string) (decimal.Decimal, bool) {
	var anyCategory *productRow
	for i, p := range l.products[product] {
		switch {
		case p.category != "" && p.category == l.t.category:
			return p.amount, true
		case p.category == "" && anyCategory == nil:
			anyCategory = &l.products[product][i]
		}
	}
	if anyCategory == nil {
		return decimal.Decimal{}, false
	}
	return anyCategory.amount, true
}
