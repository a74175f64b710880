package fare

import (
	"time"

	"github.com/shopspring/decimal"
)

// Network is a GTFS fare network (networks.txt): the set of lines one fare
// matrix covers, run by one operator.
type Network struct {
	ID, Name string
	// OperatorID is the vnpass extension column networks.operator_id: who is
	// paid for journeys priced in this network.
	OperatorID string
}

// Stop is a gate site: a GTFS stop (stops.txt) with the area that prices it
// (stop_areas.txt) and the network whose fare rules name that area.
// NetworkID, AreaID and OperatorID are empty for a stop no fare rule covers.
type Stop struct {
	ID, Name, NetworkID, AreaID string
	OperatorID                  string
}

// Table is validated fare data, ready to price journeys. It is immutable once
// loaded and safe for concurrent use.
type Table struct {
	networks  map[string]Network
	stops     map[string]Stop
	stopOrder []string

	// categories[0] stands for "no rider category": it is priced by product
	// rows without a rider_category_id only, and is the default when the feed
	// has no default category. The feed's categories follow in file order.
	categories []category
	catIndex   map[string]int // rider_category_id -> index in categories
	defaultCat int
	category   string // the default rider_category_id; "" if none

	// rules holds, per origin-destination pair, the fares of each category.
	rules map[odKey]odFares
	// timed holds the networks with a fare that depends on the time
	// (timeframes); netFares their pairs' fares, in file order, for the
	// same-station fare, which is then the cheapest fare at that time.
	timed    map[string]bool
	netFares map[string][]odFares
	// bounds holds the cheapest and dearest fare of each network and category.
	bounds map[netCat]fareBounds
	// ranked lists, per network, the categories Category may derive, cheapest
	// first: the rider gets the first one they qualify for.
	ranked map[string][]int

	passes map[string]*passProduct // by fare_product_id
	// caps holds the day and month pass prices of each network and category.
	caps map[netCat]capPair

	transfers []transferRule
	// Leg groups named in fare_transfer_rules.txt: an empty from/to matches
	// only the groups that no rule names (GTFS).
	namedFrom, namedTo map[string]bool
}

// odKey names one origin-destination pair within a network.
type odKey struct{ network, from, to string }

// netCat names a network and a rider category (index into Table.categories).
type netCat struct {
	network string
	cat     int
}

// odFares is the fares of one origin-destination pair, indexed like
// Table.categories: per category, the fares of the rules that may price it,
// in the order they are tried (see pick). Most pairs have one fare per
// category that applies at any time.
type odFares [][]catFare

// catFare is what one rider category pays for one journey, and where each
// part of it comes from.
type catFare struct {
	ok bool
	// specific: the amount comes from a fare_products.txt row naming the
	// category, not from a row for any category.
	specific bool
	rule     string // fare_leg_rules.txt row, "fare_leg_rules.txt:17"
	legGroup string // leg_group_id of that row
	product  string
	row      string // fare_products.txt row that set the amount, "fare_products.txt:9"
	amount   decimal.Decimal
	// When the rule applies: rule_priority, and the timeframe groups the
	// entry and exit taps must fall in (nil: any time).
	priority int
	from, to *timeframeGroup
	line     int // of the rule in fare_leg_rules.txt
}

// timed reports whether the fare depends on the time of the taps.
func (f *catFare) timed() bool { return f.from != nil || f.to != nil }

// pick returns the first fare of cands, in the order the loader ranked them,
// whose timeframes contain the entry and exit taps (see Query); nil if none
// does. It does not allocate.
func pick(cands []catFare, at, exitAt time.Time) *catFare {
	if len(cands) > 0 && !cands[0].timed() {
		return &cands[0] // the common case: one fare at any time
	}
	var entry, exit localTime
	converted := false
	for i := range cands {
		f := &cands[i]
		if !f.timed() {
			return f
		}
		if !converted {
			entry, exit, converted = toLocal(at), toLocal(exitAt), true
			if exitAt.IsZero() {
				exit = entry
			}
		}
		if f.from.contains(entry) && f.to.contains(exit) {
			return f
		}
	}
	return nil
}

type fareBounds struct{ min, max catFare }

// category is one row of rider_categories.txt.
type category struct {
	id, name string
	line     int
	elig     eligibility
	url      string // eligibility_url
}

// passProduct is a fare product with a validity (the vnpass columns
// vnpass_duration_amount and vnpass_duration_unit), sold for one network.
type passProduct struct {
	id      string
	network string
	dur     duration
	// byCat is the price of the pass per category, indexed like
	// Table.categories.
	byCat []catFare
}

// duration is how long a pass is valid: amount days or calendar months.
type duration struct {
	amount int
	unit   string // durationDay or durationMonth
}

const (
	durationDay   = "day"
	durationMonth = "month"
)

// capPair is the price of the day pass and of the month pass of a network
// for one category: the daily and monthly caps.
type capPair struct{ day, month capLimit }

type capLimit struct {
	ok      bool
	amount  decimal.Decimal
	product string
	row     string
}

// transferRule is one row of fare_transfer_rules.txt.
type transferRule struct {
	id        string // "fare_transfer_rules.txt:2"
	from, to  string // leg groups; "" matches the groups no rule names
	count     int    // transfer_count; 0 when empty
	limit     time.Duration
	limitType int // duration_limit_type
	kind      int // fare_transfer_type
	hasLimit  bool
	product   string    // fare_product_id; "" costs 0
	byCat     []catFare // the product's amount per category; nil without a product
}

// Stop returns the gate site with the given stop_id.
func (t *Table) Stop(id string) (Stop, bool) {
	s, ok := t.stops[id]
	return s, ok
}

// Stops returns every stop in the order of stops.txt.
func (t *Table) Stops() []Stop {
	out := make([]Stop, len(t.stopOrder))
	for i, id := range t.stopOrder {
		out[i] = t.stops[id]
	}
	return out
}

// Network returns the network with the given network_id.
func (t *Table) Network(id string) (Network, bool) {
	n, ok := t.networks[id]
	return n, ok
}

// DefaultRiderCategory is the rider_category_id Price uses ("" if the feed
// has no default category).
func (t *Table) DefaultRiderCategory() string { return t.category }

// RiderCategories returns the rider_category_id of every category in the
// order of rider_categories.txt.
func (t *Table) RiderCategories() []string {
	out := make([]string, 0, len(t.categories)-1)
	for _, c := range t.categories[1:] {
		out = append(out, c.id)
	}
	return out
}

// categoryIndex resolves a rider_category_id; "" is the default category.
func (t *Table) categoryIndex(id string) (int, bool) {
	if id == "" {
		return t.defaultCat, true
	}
	i, ok := t.catIndex[id]
	return i, ok
}
