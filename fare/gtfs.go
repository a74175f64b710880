package fare

import (
	"cmp"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

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
	fileFareTransfers = "fare_transfer_rules.txt"
)

const (
	currencyVND = "VND"
	// maxAmountDigits bounds an amount at under a trillion dong: far above any
	// fare, far below trouble.
	maxAmountDigits = 12
	// Bounds on a pass's validity and a transfer's time limit: generous, but
	// small enough that time arithmetic cannot overflow.
	maxPassDays      = 366
	maxPassMonths    = 12
	maxDurationLimit = 7 * 24 * 60 * 60
	maxTransferCount = 1000
	maxRulePriority  = math.MaxInt32
)

// LoadGTFS reads and validates GTFS Fares v2 files from fsys: the embedded
// HanoiData or HCMCData, or an operator's directory (os.DirFS). Files are CSV
// with a header, UTF-8 with or without a byte order mark, LF or CRLF line ends.
//
// Required: networks.txt (with the vnpass column operator_id), stops.txt,
// areas.txt, stop_areas.txt, fare_products.txt, fare_leg_rules.txt.
// Optional: rider_categories.txt, fare_media.txt, fare_transfer_rules.txt,
// timeframes.txt, calendar.txt and calendar_dates.txt (checked when present;
// a timeframe's service_id must be in one of the last two). Other files are
// ignored.
//
// Every error wraps ErrInvalidData; each *DataError names file, line and
// field. All problems of the first broken file are reported together.
//
// What is supported of Fares v2, and why the rest is refused rather than
// ignored (a silently ignored rule would misprice):
//   - a journey's fare comes from a fare_leg_rules.txt row naming network_id,
//     from_area_id and to_area_id explicitly, and optionally the timeframe
//     groups its entry and exit must fall in (from_timeframe_group_id,
//     to_timeframe_group_id) and a rule_priority. Of the rules that match a
//     journey, the highest rule_priority wins; two rules of one rank that
//     could both price one journey for one rider category are refused (see
//     PriceFor), since a gate cannot offer the rider a choice.
//   - timeframes.txt as in GTFS: start_time included, end_time excluded, at
//     most 24:00:00, both empty for the whole day, no overlap within one
//     timeframe_group_id and service_id; on the days of its service_id
//     (calendar.txt, calendar_dates.txt), in local time (Zone).
//   - a pass (a fare product with the vnpass columns vnpass_duration_amount
//     and vnpass_duration_unit) is sold for a network by a rule with both
//     areas and both timeframes empty; the file must then have a
//     rule_priority column, under which GTFS reads an empty area as "any
//     area".
//   - a stop belongs to one area and an area is priced in one network; that
//     network is the stop's network.
//   - amounts are whole VND; only a product no leg rule uses (a transfer
//     discount) may be negative.
//   - a fare product may have rows per rider category and fare medium, but
//     for one rider category all its media must cost the same.
//   - rider_categories.txt may carry the vnpass column vnpass_eligibility,
//     which says which VNeID attributes qualify a rider (see Category).
func LoadGTFS(fsys fs.FS) (*Table, error) {
	l := &loader{
		fsys: fsys,
		t: &Table{
			networks:   make(map[string]Network),
			stops:      make(map[string]Stop),
			categories: []category{{}},
			catIndex:   make(map[string]int),
			rules:      make(map[odKey]odFares),
			timed:      make(map[string]bool),
			netFares:   make(map[string][]odFares),
			bounds:     make(map[netCat]fareBounds),
			ranked:     make(map[string][]int),
			passes:     make(map[string]*passProduct),
			caps:       make(map[netCat]capPair),
			namedFrom:  make(map[string]bool),
			namedTo:    make(map[string]bool),
		},
		media:     make(map[string]int),
		products:  make(map[string]*productInfo),
		areas:     make(map[string]int),
		stopArea:  make(map[string]int),
		legGroups: make(map[string]int),
		offered:   make(map[netCat]bool),
		services:  make(map[string]*service),
		groups:    make(map[string]*timeframeGroup),
		overlaps:  make(map[[2]*timeframeGroup]bool),
		active:    make(map[*timeframeGroup]bool),
	}
	// Each file only refers to files read before it, so stopping at the
	// first broken file avoids a cascade of "unknown ..." errors.
	steps := []func(){
		l.readNetworks, l.readRiderCategories, l.readFareMedia, l.readFareProducts,
		l.readStops, l.readAreas, l.readStopAreas,
		l.readCalendar, l.readCalendarDates, l.readTimeframes,
		l.readFareLegRules, l.readFareTransferRules,
	}
	for _, step := range steps {
		step()
		if l.errs.failed() {
			return nil, l.errs.err()
		}
	}
	l.rankCategories()
	return l.t, nil
}

type loader struct {
	fsys fs.FS
	errs errList
	t    *Table

	media     map[string]int // fare_media_id -> line
	products  map[string]*productInfo
	areas     map[string]int // area_id -> line
	stopArea  map[string]int // stop_id -> line in stop_areas.txt
	legGroups map[string]int // leg_group_id -> first line in fare_leg_rules.txt
	// offered: the category has a fare of its own (a product row naming it)
	// in the network, so Category may derive it there.
	offered map[netCat]bool

	services map[string]*service        // service_id -> days
	groups   map[string]*timeframeGroup // timeframe_group_id -> timeframes
	overlaps map[[2]*timeframeGroup]bool
	active   map[*timeframeGroup]bool // has a moment at all
	// odOrder lists the origin-destination pairs in the order of their
	// first rule; fares every fare a rule gave a category, in file order.
	odOrder []odKey
	fares   []ruleFare
}

// ruleFare is a fare one fare_leg_rules.txt row gives one category on one
// origin-destination pair.
type ruleFare struct {
	od odKey
	c  int
	f  catFare
}

// productInfo is every row of one fare_product_id in fare_products.txt
// (one per rider category and fare medium).
type productInfo struct {
	rows []productRow
	dur  duration // zero unless the product is a pass
}

type productRow struct {
	line     int
	category string
	media    string
	amount   decimal.Decimal
}

func (p *productInfo) isPass() bool { return p != nil && p.dur.amount > 0 }

// negative returns the first row with a negative amount.
func (p *productInfo) negative() (productRow, bool) {
	for _, r := range p.rows {
		if r.amount.IsNegative() {
			return r, true
		}
	}
	return productRow{}, false
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

// integer reads an optional whole number within [lo, hi]; ok is false when
// the value is present but wrong (and reported).
func (l *loader) integer(r row, field string, lo, hi int) (n int, set, ok bool) {
	v := r.get(field)
	if v == "" {
		return 0, false, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		l.fail(r, field, v, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return 0, true, false
	}
	return n, true, true
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
	seen := make(map[string]int)
	defaultLine := 0
	for _, r := range f.rows {
		id, ok := l.need(r, "rider_category_id")
		name, ok2 := l.need(r, "rider_category_name")
		if !ok || !ok2 || !l.define(seen, r, "rider_category_id", id) {
			continue
		}
		c := category{id: id, name: name, line: r.line}
		isDefault := false
		switch v := r.get("is_default_fare_category"); v {
		case "", "0":
		case "1":
			if defaultLine != 0 {
				l.fail(r, "is_default_fare_category", v, fmt.Sprintf("a second default category (first at line %d)", defaultLine))
				continue
			}
			isDefault = true
		default:
			l.fail(r, "is_default_fare_category", v, "must be 0, 1 or empty")
			continue
		}
		if u := r.get("eligibility_url"); u != "" {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
				l.fail(r, "eligibility_url", u, "must be a full http or https URL")
				continue
			}
			c.url = u
		}
		if v := r.get(columnEligibility); v != "" {
			e, reason := parseEligibility(v)
			if reason != "" {
				l.fail(r, columnEligibility, v, reason)
				continue
			}
			if isDefault {
				l.fail(r, columnEligibility, v, "the default category is everyone's; leave it empty")
				continue
			}
			c.elig = e
		}
		if isDefault {
			defaultLine = r.line
			l.t.category = id
			l.t.defaultCat = len(l.t.categories)
		}
		l.t.catIndex[id] = len(l.t.categories)
		l.t.categories = append(l.t.categories, c)
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

// The vnpass extension columns of fare_products.txt that make a product a
// pass. GTFS Fares v2 has no place for a product's validity yet.
const (
	columnDurationAmount = "vnpass_duration_amount"
	columnDurationUnit   = "vnpass_duration_unit"
)

func (l *loader) readFareProducts() {
	f := readFeedFile(l.fsys, fileFareProducts, true, []string{"fare_product_id", "amount", "currency"}, &l.errs)
	if f == nil {
		return
	}
	type pk struct{ product, category, media string }
	seen := make(map[pk]int)
	durLine := make(map[string]int)
	for _, r := range f.rows {
		id, ok := l.need(r, "fare_product_id")
		if !ok {
			continue
		}
		p := productRow{line: r.line, category: r.get("rider_category_id"), media: r.get("fare_media_id")}
		if p.category != "" && !l.ref(r, "rider_category_id", p.category, "rider category", l.t.catIndex[p.category] != 0) {
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
		dur, ok := l.duration(r)
		if !ok {
			continue
		}
		if dur.amount > 0 && amount.IsNegative() {
			l.fail(r, "amount", r.get("amount"), "a pass cannot cost a negative amount")
			continue
		}
		key := pk{id, p.category, p.media}
		if first, dup := seen[key]; dup {
			l.fail(r, "fare_product_id", id, fmt.Sprintf("duplicate for rider category %q and fare medium %q, first at line %d", p.category, p.media, first))
			continue
		}
		seen[key] = r.line
		info := l.products[id]
		if info == nil {
			info = &productInfo{dur: dur}
			l.products[id] = info
			durLine[id] = r.line
		} else if info.dur != dur {
			field := columnDurationAmount
			if info.dur.amount == dur.amount {
				field = columnDurationUnit
			}
			l.fail(r, field, r.get(field), fmt.Sprintf("differs from line %d for the same fare_product_id", durLine[id]))
			continue
		}
		// Pricing does not choose a fare medium, so the media of one
		// product must agree on the price for each rider category.
		for _, q := range info.rows {
			if q.category == p.category && !q.amount.Equal(p.amount) {
				l.fail(r, "amount", r.get("amount"), fmt.Sprintf("differs from line %d for the same fare_product_id and rider category %q; pricing by fare medium is not supported yet", q.line, p.category))
				break
			}
		}
		info.rows = append(info.rows, p)
	}
}

// duration reads the vnpass validity columns of a product row: both or neither.
func (l *loader) duration(r row) (duration, bool) {
	amountText, unit := r.get(columnDurationAmount), r.get(columnDurationUnit)
	switch {
	case amountText == "" && unit == "":
		return duration{}, true
	case amountText == "":
		l.fail(r, columnDurationAmount, "", "missing value ("+columnDurationUnit+" is set)")
		return duration{}, false
	case unit == "":
		l.fail(r, columnDurationUnit, "", "missing value ("+columnDurationAmount+" is set)")
		return duration{}, false
	}
	limit := 0
	switch unit {
	case durationDay:
		limit = maxPassDays
	case durationMonth:
		limit = maxPassMonths
	default:
		l.fail(r, columnDurationUnit, unit, "must be day or month")
		return duration{}, false
	}
	n, _, ok := l.integer(r, columnDurationAmount, 1, limit)
	if !ok {
		return duration{}, false
	}
	return duration{amount: n, unit: unit}, true
}

// parseAmount reads a GTFS currency amount in VND: a plain decimal number
// (no exponent or separators, an optional minus for a transfer discount) that
// is a whole number of dong. It returns a reason when the text is not one.
func parseAmount(s string) (decimal.Decimal, string) {
	if s == "" {
		return decimal.Decimal{}, "missing value"
	}
	digits, _ := strings.CutPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(digits, ".")
	if !allDigits(intPart) || (hasDot && !allDigits(frac)) {
		return decimal.Decimal{}, "not a number"
	}
	if len(strings.TrimLeft(intPart, "0")) > maxAmountDigits {
		return decimal.Decimal{}, "amount too large"
	}
	d, err := decimal.NewFromString(s)
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
	type pk struct{ network, from, to, fromTime, toTime, product string }
	type areaNetwork struct {
		network string
		line    int
	}
	seen := make(map[pk]int)
	areaNet := make(map[string]areaNetwork)
	passLine := make(map[string]int)
	// With a rule_priority column, GTFS reads an empty area as "any area";
	// without one, as "every area no other rule names".
	anyArea := f.has("rule_priority")
	negReported := make(map[string]bool)

	for _, r := range f.rows {
		bad := false
		product := r.get("fare_product_id")
		info := l.products[product]
		var when [2]*timeframeGroup
		for i, field := range []string{"from_timeframe_group_id", "to_timeframe_group_id"} {
			v := r.get(field)
			switch {
			case v == "":
			case info.isPass():
				l.fail(r, field, v, "a pass covers its network at any time; leave from_timeframe_group_id and to_timeframe_group_id empty")
				bad = true
			case l.groups[v] == nil:
				l.fail(r, field, v, "unknown timeframe group (not in "+fileTimeframes+")")
				bad = true
			default:
				when[i] = l.groups[v]
			}
		}
		priority, _, okPriority := l.integer(r, "rule_priority", 0, maxRulePriority)
		if !okPriority {
			bad = true
		}
		net, okNet := l.need(r, "network_id")
		if okNet {
			_, known := l.t.networks[net]
			okNet = l.ref(r, "network_id", net, "network", known)
		}
		var from, to string
		okFrom, okTo := true, true
		if info.isPass() {
			okFrom = l.passArea(r, "from_area_id", anyArea)
			okTo = okFrom && l.passArea(r, "to_area_id", anyArea)
		} else {
			from, okFrom = l.area(r, "from_area_id")
			to, okTo = l.area(r, "to_area_id")
		}
		product, okProduct := l.need(r, "fare_product_id")
		if okProduct {
			okProduct = l.ref(r, "fare_product_id", product, "fare product", info != nil)
		}
		if okProduct {
			if neg, isNeg := info.negative(); isNeg {
				if !negReported[product] {
					l.fail(r, "fare_product_id", product, fmt.Sprintf("amount %s at %s:%d is negative; only a transfer discount (a product of %s) may be negative", neg.amount, fileFareProducts, neg.line, fileFareTransfers))
				}
				negReported[product] = true
				okProduct = false
			}
		}
		if bad || !okNet || !okFrom || !okTo || !okProduct {
			continue
		}

		key := pk{net, from, to, r.get("from_timeframe_group_id"), r.get("to_timeframe_group_id"), product}
		if first, dup := seen[key]; dup {
			l.fail(r, "", "", fmt.Sprintf("duplicate rule, first at line %d", first))
			continue
		}
		seen[key] = r.line
		if g := r.get("leg_group_id"); g != "" {
			if _, ok := l.legGroups[g]; !ok {
				l.legGroups[g] = r.line
			}
		}

		if info.isPass() {
			// A held pass covers every journey of its network (PassCovers);
			// its rule takes no part in choosing a journey's fare, so its
			// rule_priority does not matter.
			l.passRule(r, net, product, info, passLine)
			continue
		}

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
		l.odRule(r, odKey{net, from, to}, product, info, priority, when[0], when[1])
	}
	if l.errs.failed() {
		return
	}
	l.finishFares()
	for id, s := range l.t.stops {
		an, ok := areaNet[s.AreaID]
		if s.AreaID == "" || !ok {
			continue
		}
		s.NetworkID = an.network
		s.OperatorID = l.t.networks[an.network].OperatorID
		l.t.stops[id] = s
	}
	l.capsFromPasses()
}

// odRule records the fare of every rider category that a rule's product
// prices, with the rule's priority and timeframes. Two fares of one pair and
// category that could both apply to one journey must differ in rank (see
// finishFares): GTFS would offer the rider both products, a gate charges one.
// So, as without timeframes, a product row naming the category may share
// its times with a row for any category (the named row wins), but not with
// another named row.
func (l *loader) odRule(r row, od odKey, product string, info *productInfo, priority int, from, to *timeframeGroup) {
	fares, ok := l.t.rules[od]
	if !ok {
		fares = make(odFares, len(l.t.categories))
		l.t.rules[od] = fares
		l.odOrder = append(l.odOrder, od)
	}
	id := fmt.Sprintf("%s:%d", fileFareLegRules, r.line)
	group := r.get("leg_group_id")
	// The default category first, so that its clash is the one reported.
	order := append([]int{l.t.defaultCat}, l.otherCategories()...)
	var adds []ruleFare
	for _, c := range order {
		p, specific, ok := l.amountFor(info, c)
		if !ok {
			continue
		}
		cf := catFare{
			ok: true, specific: specific, rule: id, legGroup: group, product: product,
			row: fmt.Sprintf("%s:%d", fileFareProducts, p.line), amount: p.amount,
			priority: priority, from: from, to: to, line: r.line,
		}
		for i := range fares[c] {
			prev := &fares[c][i]
			if prev.priority == cf.priority && prev.specific == cf.specific && l.overlap(prev, &cf) {
				l.fail(r, "", "", clashReason(od, l.t.categories[c].id, prev, &cf))
				return
			}
		}
		adds = append(adds, ruleFare{od: od, c: c, f: cf})
	}
	for _, a := range adds {
		fares[a.c] = append(fares[a.c], a.f)
	}
	l.fares = append(l.fares, adds...)
}

func clashReason(od odKey, category string, prev, f *catFare) string {
	s := fmt.Sprintf("second fare for network %q from %q to %q (rider category %q), first at line %d", od.network, od.from, od.to, category, prev.line)
	if !prev.timed() && !f.timed() {
		return s
	}
	return s + fmt.Sprintf(" and applying at the same times (entry: %s and %s; exit: %s and %s); make the timeframes disjoint or give one rule a higher rule_priority",
		prev.from.name(), f.from.name(), prev.to.name(), f.to.name())
}

// overlap reports whether one journey can match the timeframes of both fares.
func (l *loader) overlap(a, b *catFare) bool {
	return l.groupsOverlap(a.from, b.from) && l.groupsOverlap(a.to, b.to)
}

func (l *loader) groupsOverlap(a, b *timeframeGroup) bool {
	k := [2]*timeframeGroup{a, b}
	v, ok := l.overlaps[k]
	if !ok {
		v = groupsOverlap(a, b)
		l.overlaps[k] = v
	}
	return v
}

// finishFares ranks the fares of each pair and category in the order pick
// tries them: the highest rule_priority first (GTFS); at one priority a fare
// from a product row naming the category before one from a row for any
// category; then file order. A fare that can never apply is dropped: one
// whose timeframe group has no day, or one that a fare ranked before it
// always covers (the same or no timeframe on each side). The bounds
// (MinFareFor, MaxFareFor), the categories a network offers and the timed
// networks are taken from the fares that remain, in file order, so that
// ties always name the same rule.
func (l *loader) finishFares() {
	type fareKey struct {
		od      odKey
		c, line int
	}
	dropped := make(map[fareKey]bool)
	for od, fares := range l.t.rules {
		for c, cands := range fares {
			slices.SortStableFunc(cands, func(a, b catFare) int {
				return cmp.Or(cmp.Compare(b.priority, a.priority), cmp.Compare(rank(b.specific), rank(a.specific)))
			})
			kept := cands[:0]
			for _, f := range cands {
				if !l.canApply(&f) || slices.ContainsFunc(kept, func(k catFare) bool { return covers(&k, &f) }) {
					dropped[fareKey{od, c, f.line}] = true
					continue
				}
				kept = append(kept, f)
			}
			fares[c] = slices.Clip(kept)
		}
	}
	for _, rf := range l.fares {
		if dropped[fareKey{rf.od, rf.c, rf.f.line}] {
			continue
		}
		cf := rf.f
		k := netCat{rf.od.network, rf.c}
		if cf.specific {
			l.offered[k] = true
		}
		if cf.timed() {
			l.t.timed[rf.od.network] = true
		}
		b, ok := l.t.bounds[k]
		if !ok {
			b = fareBounds{min: cf, max: cf}
		}
		if cf.amount.LessThan(b.min.amount) {
			b.min = cf
		}
		if cf.amount.GreaterThan(b.max.amount) {
			b.max = cf
		}
		l.t.bounds[k] = b
	}
	for _, od := range l.odOrder {
		if l.t.timed[od.network] {
			l.t.netFares[od.network] = append(l.t.netFares[od.network], l.t.rules[od])
		}
	}
}

// canApply reports whether some moment falls in the fare's timeframes.
func (l *loader) canApply(f *catFare) bool {
	for _, g := range []*timeframeGroup{f.from, f.to} {
		if g == nil {
			continue
		}
		active, ok := l.active[g]
		if !ok {
			active = g.everActive()
			l.active[g] = active
		}
		if !active {
			return false
		}
	}
	return true
}

func rank(specific bool) int {
	if specific {
		return 1
	}
	return 0
}

// covers reports whether fare k applies whenever fare f does.
func covers(k, f *catFare) bool {
	return (k.from == nil || k.from == f.from) && (k.to == nil || k.to == f.to)
}

// otherCategories lists every category index but the default, in order.
func (l *loader) otherCategories() []int {
	out := make([]int, 0, len(l.t.categories))
	for i := range l.t.categories {
		if i != l.t.defaultCat {
			out = append(out, i)
		}
	}
	return out
}

// passRule records the network a pass is sold for.
func (l *loader) passRule(r row, net, product string, info *productInfo, passLine map[string]int) {
	if p, ok := l.t.passes[product]; ok {
		l.fail(r, "network_id", net, fmt.Sprintf("pass %q already covers network %q at line %d; a pass covers one network", product, p.network, passLine[product]))
		return
	}
	passLine[product] = r.line
	p := &passProduct{id: product, network: net, dur: info.dur, byCat: make([]catFare, len(l.t.categories))}
	for c := range l.t.categories {
		if row, specific, ok := l.amountFor(info, c); ok {
			p.byCat[c] = catFare{
				ok: true, specific: specific, rule: fmt.Sprintf("%s:%d", fileFareLegRules, r.line),
				product: product, row: fmt.Sprintf("%s:%d", fileFareProducts, row.line), amount: row.amount,
			}
		}
	}
	l.t.passes[product] = p
}

// area reads a from_area_id or to_area_id of a journey's fare, which must
// name an area.
func (l *loader) area(r row, field string) (string, bool) {
	v := r.get(field)
	if v == "" {
		l.fail(r, field, "", "missing value (empty areas, which match any area, are not supported yet)")
		return "", false
	}
	return v, l.ref(r, field, v, "area", l.areas[v] != 0)
}

// passArea checks an area of a pass's rule: empty, in a file whose
// rule_priority column makes empty mean "any area".
func (l *loader) passArea(r row, field string, anyArea bool) bool {
	if v := r.get(field); v != "" {
		l.fail(r, field, v, "a pass covers its whole network; leave from_area_id and to_area_id empty")
		return false
	}
	if !anyArea {
		l.fail(r, field, "", "empty, but without a rule_priority column GTFS matches an empty area only to areas no other rule names; add the column (it may stay empty) so that the pass covers any area")
		return false
	}
	return true
}

// amountFor resolves a product's row for category c: a row naming the
// category wins over a row for any category (empty rider_category_id).
// categories[0] ("no category") takes only rows for any category.
// readFareProducts has ensured the rows of one category agree on the amount.
func (l *loader) amountFor(info *productInfo, c int) (row productRow, specific, ok bool) {
	id := l.t.categories[c].id
	var anyCategory *productRow
	for i, p := range info.rows {
		switch {
		case c != 0 && p.category == id:
			return p, true, true
		case p.category == "" && anyCategory == nil:
			anyCategory = &info.rows[i]
		}
	}
	if anyCategory == nil {
		return productRow{}, false, false
	}
	return *anyCategory, false, true
}

// capsFromPasses sets each network's daily and monthly caps per category: the
// cheapest 1-day and 1-month pass the category can buy there.
func (l *loader) capsFromPasses() {
	for _, id := range slices.Sorted(maps.Keys(l.t.passes)) {
		p := l.t.passes[id]
		if p.dur.amount != 1 {
			continue
		}
		for c, cf := range p.byCat {
			if !cf.ok {
				continue
			}
			k := netCat{p.network, c}
			pair := l.t.caps[k]
			lim := &pair.day
			if p.dur.unit == durationMonth {
				lim = &pair.month
			}
			if !lim.ok || cf.amount.LessThan(lim.amount) {
				*lim = capLimit{ok: true, amount: cf.amount, product: p.id, row: cf.row}
			}
			l.t.caps[k] = pair
		}
	}
}

func (l *loader) readFareTransferRules() {
	f := readFeedFile(l.fsys, fileFareTransfers, false, []string{"fare_transfer_type"}, &l.errs)
	if f == nil {
		return
	}
	type pk struct {
		from, to, product string
		count             int
		limit             time.Duration
	}
	seen := make(map[pk]int)
	for _, r := range f.rows {
		tr := transferRule{id: fmt.Sprintf("%s:%d", fileFareTransfers, r.line)}
		ok := true
		for _, g := range []struct {
			field string
			dst   *string
		}{{"from_leg_group_id", &tr.from}, {"to_leg_group_id", &tr.to}} {
			*g.dst = r.get(g.field)
			if *g.dst != "" {
				_, known := l.legGroups[*g.dst]
				ok = l.ref(r, g.field, *g.dst, "leg group (no leg_group_id in "+fileFareLegRules+")", known) && ok
			}
		}
		count, countSet, okCount := l.integer(r, "transfer_count", -1, maxTransferCount)
		switch {
		case !okCount:
			ok = false
		case countSet && count == 0:
			l.fail(r, "transfer_count", r.get("transfer_count"), "must be -1 (no limit) or at least 1")
			ok = false
		case countSet && tr.from != tr.to:
			l.fail(r, "transfer_count", r.get("transfer_count"), "forbidden when from_leg_group_id and to_leg_group_id differ")
			ok = false
		case !countSet && tr.from == tr.to:
			l.fail(r, "transfer_count", "", "missing value (required when from_leg_group_id equals to_leg_group_id)")
			ok = false
		}
		tr.count = count
		limit, limitSet, okLimit := l.integer(r, "duration_limit", 1, maxDurationLimit)
		limitType, typeSet, okType := l.integer(r, "duration_limit_type", 0, 3)
		switch {
		case !okLimit || !okType:
			ok = false
		case limitSet && !typeSet:
			l.fail(r, "duration_limit_type", "", "missing value (required when duration_limit is set)")
			ok = false
		case typeSet && !limitSet:
			l.fail(r, "duration_limit_type", r.get("duration_limit_type"), "forbidden without duration_limit")
			ok = false
		}
		tr.limit, tr.limitType, tr.hasLimit = time.Duration(limit)*time.Second, limitType, limitSet
		kind, kindSet, okKind := l.integer(r, "fare_transfer_type", 0, 2)
		switch {
		case !okKind:
			ok = false
		case !kindSet:
			l.fail(r, "fare_transfer_type", "", "missing value")
			ok = false
		}
		tr.kind = kind
		if tr.product = r.get("fare_product_id"); tr.product != "" {
			info := l.products[tr.product]
			switch {
			case info == nil:
				l.fail(r, "fare_product_id", tr.product, "unknown fare product")
				ok = false
			case info.isPass():
				l.fail(r, "fare_product_id", tr.product, "a pass cannot price a transfer")
				ok = false
			}
		}
		if !ok {
			continue
		}
		if tr.product != "" {
			info := l.products[tr.product]
			tr.byCat = make([]catFare, len(l.t.categories))
			for c := range l.t.categories {
				if row, specific, ok := l.amountFor(info, c); ok {
					tr.byCat[c] = catFare{ok: true, specific: specific, rule: tr.id, product: tr.product,
						row: fmt.Sprintf("%s:%d", fileFareProducts, row.line), amount: row.amount}
				}
			}
		}
		key := pk{tr.from, tr.to, tr.product, tr.count, tr.limit}
		if first, dup := seen[key]; dup {
			l.fail(r, "", "", fmt.Sprintf("duplicate rule, first at line %d", first))
			continue
		}
		seen[key] = r.line
		l.t.transfers = append(l.t.transfers, tr)
		if tr.from != "" {
			l.t.namedFrom[tr.from] = true
		}
		if tr.to != "" {
			l.t.namedTo[tr.to] = true
		}
	}
}
