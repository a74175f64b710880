package fare

import "github.com/shopspring/decimal"

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
	// rules holds, per origin-destination pair, the fare leg rule that prices
	// the default rider category.
	rules map[odKey]legRule
	// bounds holds the cheapest and dearest rule of each network, for the
	// default rider category.
	bounds map[string]fareBounds
	// category is the default rider category (rider_categories.txt); "" when
	// the feed defines none, in which case only products without a
	// rider_category_id price journeys.
	category string
}

// odKey names one origin-destination pair within a network.
type odKey struct{ network, from, to string }

// legRule is one row of fare_leg_rules.txt with its product's amount resolved.
type legRule struct {
	id       string // "fare_leg_rules.txt:17"
	legGroup string // leg_group_id, for fare_transfer_rules.txt later
	product  string
	amount   decimal.Decimal
}

type fareBounds struct{ min, max legRule }

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
