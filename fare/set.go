package fare

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Set is the fare tables of several feeds (one per city) answering as one:
// each question goes to the table that owns the stop or network it names.
// Stop and network ids must be unique across the feeds.
type Set struct {
	tables    []*Table
	byStop    map[string]*Table
	byNetwork map[string]*Table
}

// NewSet joins tables, refusing a stop or network id defined twice.
func NewSet(tables ...*Table) (*Set, error) {
	s := &Set{tables: tables, byStop: map[string]*Table{}, byNetwork: map[string]*Table{}}
	for _, t := range tables {
		for id := range t.networks {
			if _, dup := s.byNetwork[id]; dup {
				return nil, fmt.Errorf("%w: network %q is in two feeds", ErrInvalidData, id)
			}
			s.byNetwork[id] = t
		}
		for _, st := range t.Stops() {
			if _, dup := s.byStop[st.ID]; dup {
				return nil, fmt.Errorf("%w: stop %q is in two feeds", ErrInvalidData, st.ID)
			}
			s.byStop[st.ID] = t
		}
	}
	return s, nil
}

// Shipped loads every feed vnpass ships (Hanoi, Ho Chi Minh City) as one Set.
func Shipped() (*Set, error) {
	h, err := Hanoi()
	if err != nil {
		return nil, err
	}
	c, err := HCMC()
	if err != nil {
		return nil, err
	}
	return NewSet(h, c)
}

// Stop finds a stop in whichever feed has it.
func (s *Set) Stop(id string) (Stop, bool) {
	t, ok := s.byStop[id]
	if !ok {
		return Stop{}, false
	}
	return t.Stop(id)
}

// Stops lists every stop, feed by feed.
func (s *Set) Stops() []Stop {
	var out []Stop
	for _, t := range s.tables {
		out = append(out, t.Stops()...)
	}
	return out
}

// PriceFor prices a journey with the table of its entry stop.
func (s *Set) PriceFor(q Query) (Quote, error) {
	t, ok := s.byStop[q.From]
	if !ok {
		return Quote{}, fmt.Errorf("%w: entry %q", ErrUnknownStop, q.From)
	}
	return t.PriceFor(q)
}

// Category is the rider's category on a network; see Table.Category.
func (s *Set) Category(r Rider, network string) string {
	if t, ok := s.byNetwork[network]; ok {
		return t.Category(r, network)
	}
	return ""
}

// MinFareFor is the lowest single fare of a network for a category.
func (s *Set) MinFareFor(network, category string) decimal.Decimal {
	if t, ok := s.byNetwork[network]; ok {
		return t.MinFareFor(network, category)
	}
	return decimal.Zero
}

// MaxFareFor is the highest single fare of a network for a category.
func (s *Set) MaxFareFor(network, category string) decimal.Decimal {
	if t, ok := s.byNetwork[network]; ok {
		return t.MaxFareFor(network, category)
	}
	return decimal.Zero
}

// Cap applies a network's daily and monthly caps; see Table.Cap.
func (s *Set) Cap(network, category string, spentToday, spentThisMonth, fare decimal.Decimal) CapResult {
	if t, ok := s.byNetwork[network]; ok {
		return t.Cap(network, category, spentToday, spentThisMonth, fare)
	}
	return CapResult{Charge: fare}
}

// Transfer prices next as the leg after prev when both are in one feed
// (a transfer between cities is no transfer); see Table.Transfer.
func (s *Set) Transfer(prev, next Leg) (TransferQuote, error) {
	tn, ok := s.byStop[next.From]
	if !ok {
		return TransferQuote{}, fmt.Errorf("%w: entry %q", ErrUnknownStop, next.From)
	}
	if tp, ok := s.byStop[prev.From]; ok && tp == tn {
		return tn.Transfer(prev, next)
	}
	b, err := tn.PriceFor(next.query())
	if err != nil {
		return TransferQuote{}, err
	}
	return TransferQuote{Next: b, Charge: b.Amount, Adjustment: decimal.Zero, Journey: prev.Charged.Add(b.Amount)}, nil
}

// NewPass prices a pass with the feed that sells the product; see
// Table.NewPass.
func (s *Set) NewPass(productID, category string, start time.Time) (Pass, error) {
	for _, t := range s.tables {
		if _, ok := t.passes[productID]; ok {
			return t.NewPass(productID, category, start)
		}
	}
	return Pass{}, fmt.Errorf("%w: %q", ErrNoPass, productID)
}

// Network finds a network in whichever feed has it.
func (s *Set) Network(id string) (Network, bool) {
	t, ok := s.byNetwork[id]
	if !ok {
		return Network{}, false
	}
	return t.Network(id)
}
