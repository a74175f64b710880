package fare

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Rider is what vnpass knows of a rider at the time of travel, from the
// verified VNeID assertion (identity.Assertion) and the registries behind it.
// It decides the rider category; it carries no identity.
type Rider struct {
	// Age in whole years on the day of travel. A verified assertion always
	// carries it; note that the zero value is an infant, who rides free.
	Age         int
	Disabled    bool // holds a disability certificate
	Meritorious bool // người có công với cách mạng
	Student     bool // enrolled pupil or student
	Worker      bool // worker in an industrial zone
}

// columnEligibility is the vnpass extension column of rider_categories.txt
// saying who qualifies for a category. GTFS has eligibility_url, a page for
// people to read; a gate needs a rule it can apply.
const columnEligibility = "vnpass_eligibility"

// eligibility is a parsed vnpass_eligibility value.
type eligibility struct {
	kind eligKind
	age  int
}

type eligKind int

const (
	// eligNone: no VNeID attribute qualifies for the category, so Category
	// never derives it (the default category, or one sold at a counter).
	eligNone eligKind = iota
	eligAgeUnder
	eligAgeFrom
	eligDisabled
	eligMeritorious
	eligStudent
	eligWorker
)

const maxAge = 150

var eligibilityWords = map[string]eligKind{
	"disabled":    eligDisabled,
	"meritorious": eligMeritorious,
	"student":     eligStudent,
	"worker":      eligWorker,
}

// parseEligibility reads one of: age<N, age>=N, disabled, meritorious,
// student, worker. It returns a reason when v is none of them.
func parseEligibility(v string) (eligibility, string) {
	if k, ok := eligibilityWords[v]; ok {
		return eligibility{kind: k}, ""
	}
	for _, p := range []struct {
		prefix string
		kind   eligKind
	}{{"age>=", eligAgeFrom}, {"age<", eligAgeUnder}} {
		n, ok := strings.CutPrefix(v, p.prefix)
		if !ok {
			continue
		}
		age, err := strconv.Atoi(n)
		if err != nil || !allDigits(n) || age < 1 || age > maxAge {
			return eligibility{}, "the age must be a whole number from 1 to 150"
		}
		return eligibility{kind: p.kind, age: age}, ""
	}
	return eligibility{}, "must be age<N, age>=N, disabled, meritorious, student or worker"
}

func (e eligibility) matches(r Rider) bool {
	switch e.kind {
	case eligAgeUnder:
		return r.Age < e.age
	case eligAgeFrom:
		return r.Age >= e.age
	case eligDisabled:
		return r.Disabled
	case eligMeritorious:
		return r.Meritorious
	case eligStudent:
		return r.Student
	case eligWorker:
		return r.Worker
	}
	return false
}

// Category is the rider_category_id a rider travels under in a network: the
// cheapest category they qualify for among those the network prices, so a
// free category comes before a concession and a concession before the
// default (adult). "Cheapest" is read from the data: the dearest single fare
// first, then the month pass, then the day pass, then the order of
// rider_categories.txt (a senior who is also disabled rides as the category
// listed first). Everyone qualifies for the default category, which is
// returned when nothing cheaper applies or the network is unknown.
//
// Call it at the time of travel, with the attributes of that day: a rider
// turns 60, or stops being a student.
func (t *Table) Category(r Rider, network string) string {
	for _, c := range t.ranked[network] {
		if c == t.defaultCat || t.categories[c].elig.matches(r) {
			return t.categories[c].id
		}
	}
	return t.category
}

// rankCategories orders, per network, the categories with fares of their
// own there, cheapest first.
func (l *loader) rankCategories() {
	// A missing pass ranks after any price.
	inf := decimal.New(1, maxAmountDigits+1)
	capOf := func(lim capLimit) decimal.Decimal {
		if !lim.ok {
			return inf
		}
		return lim.amount
	}
	for net := range l.t.networks {
		var cats []int
		for c := 1; c < len(l.t.categories); c++ {
			if l.offered[netCat{net, c}] {
				cats = append(cats, c)
			}
		}
		slices.SortStableFunc(cats, func(a, b int) int {
			ka, kb := netCat{net, a}, netCat{net, b}
			ca, cb := l.t.caps[ka], l.t.caps[kb]
			return cmp.Or(
				l.t.bounds[ka].max.amount.Cmp(l.t.bounds[kb].max.amount),
				capOf(ca.month).Cmp(capOf(cb.month)),
				capOf(ca.day).Cmp(capOf(cb.day)),
				cmp.Compare(a, b),
			)
		})
		l.t.ranked[net] = cats
	}
}
