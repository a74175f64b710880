package fare

import (
	"errors"
	"testing"
	"time"
)

// The category a rider travels under, on every shipped line: free first,
// then a concession that has a cheaper pass on that line, then adult.
func TestCategory(t *testing.T) {
	hn, hc := hanoi(t), hcmc(t)
	for _, tc := range []struct {
		name    string
		rider   Rider
		hn2a    string
		hn3     string
		hcm1    string
		comment string
	}{
		{"adult", Rider{Age: 30}, "adult", "adult", "adult", ""},
		{"infant", Rider{Age: 0}, "child_under_6", "child_under_6", "child_under_6", ""},
		{"five", Rider{Age: 5}, "child_under_6", "child_under_6", "child_under_6", "the last year under 6"},
		{"six", Rider{Age: 6}, "adult", "adult", "adult", "6 is no longer under 6"},
		{"fifty-nine", Rider{Age: 59}, "adult", "adult", "adult", ""},
		{"sixty", Rider{Age: 60}, "senior_60_plus", "senior_60_plus", "senior_60_plus", "từ đủ 60 tuổi"},
		{"ninety", Rider{Age: 90}, "senior_60_plus", "senior_60_plus", "senior_60_plus", ""},
		{"disabled", Rider{Age: 30, Disabled: true}, "disabled", "disabled", "disabled", ""},
		{"meritorious", Rider{Age: 70, Meritorious: true}, "senior_60_plus", "senior_60_plus", "senior_60_plus", "both free: rider_categories.txt order"},
		{"meritorious adult", Rider{Age: 45, Meritorious: true}, "meritorious", "meritorious", "meritorious", ""},
		{"disabled senior", Rider{Age: 65, Disabled: true}, "senior_60_plus", "senior_60_plus", "senior_60_plus", "senior listed first"},
		{"disabled meritorious", Rider{Age: 40, Disabled: true, Meritorious: true}, "disabled", "disabled", "disabled", "disabled listed first"},
		{"student", Rider{Age: 20, Student: true}, "student", "student", "student", ""},
		{"young student", Rider{Age: 5, Student: true}, "child_under_6", "child_under_6", "child_under_6", "free before concession"},
		{"old student", Rider{Age: 60, Student: true}, "senior_60_plus", "senior_60_plus", "senior_60_plus", "free before concession"},
		{"disabled student", Rider{Age: 20, Student: true, Disabled: true}, "disabled", "disabled", "disabled", ""},
		{"worker", Rider{Age: 35, Worker: true}, "worker_industrial_zone", "adult", "adult", "worker concession on 2A only"},
		{"student worker", Rider{Age: 22, Student: true, Worker: true}, "student", "student", "student", "same prices on 2A: file order"},
	} {
		for _, c := range []struct {
			tab           *Table
			network, want string
		}{{hn, "hn2a", tc.hn2a}, {hn, "hn3", tc.hn3}, {hc, "hcm1", tc.hcm1}} {
			if got := c.tab.Category(tc.rider, c.network); got != c.want {
				t.Errorf("%s: Category(%+v, %s) = %q, want %q %s", tc.name, tc.rider, c.network, got, c.want, tc.comment)
			}
		}
	}
	if got := hn.Category(Rider{Age: 70}, "hcm1"); got != "adult" {
		t.Errorf("Category in a network the feed does not have = %q, want the default", got)
	}
}

// PriceFor names the category, the leg rule and the product row that set the
// amount, for every category of every line.
func TestPriceForCategories(t *testing.T) {
	hn, hc := hanoi(t), hcmc(t)
	at := time.Date(2026, 2, 2, 8, 0, 0, 0, Zone)
	for _, tc := range []struct {
		tab      *Table
		from, to string
		category string
		want     int64
		rule     string
		row      string
	}{
		{hn, "hn2a-cat-linh", "hn2a-yen-nghia", "", 15000, "fare_leg_rules.txt:12", "fare_products.txt:51"},
		{hn, "hn2a-cat-linh", "hn2a-yen-nghia", "adult", 15000, "fare_leg_rules.txt:12", "fare_products.txt:51"},
		{hn, "hn2a-cat-linh", "hn2a-yen-nghia", "child_under_6", 0, "fare_leg_rules.txt:12", "fare_products.txt:52"},
		{hn, "hn2a-cat-linh", "hn2a-yen-nghia", "senior_60_plus", 0, "fare_leg_rules.txt:12", "fare_products.txt:53"},
		{hn, "hn2a-cat-linh", "hn2a-yen-nghia", "disabled", 0, "fare_leg_rules.txt:12", "fare_products.txt:54"},
		{hn, "hn2a-cat-linh", "hn2a-yen-nghia", "meritorious", 0, "fare_leg_rules.txt:12", "fare_products.txt:55"},
		{hn, "hn2a-cat-linh", "hn2a-yen-nghia", "student", 15000, "fare_leg_rules.txt:12", "fare_products.txt:56"},
		{hn, "hn2a-cat-linh", "hn2a-yen-nghia", "worker_industrial_zone", 15000, "fare_leg_rules.txt:12", "fare_products.txt:57"},

		{hn, "hn3-nhon", "hn3-ga-ha-noi", "adult", 14000, "fare_leg_rules.txt:144", "fare_products.txt:100"},
		{hn, "hn3-nhon", "hn3-ga-ha-noi", "child_under_6", 0, "fare_leg_rules.txt:144", "fare_products.txt:101"},
		{hn, "hn3-nhon", "hn3-ga-ha-noi", "senior_60_plus", 0, "fare_leg_rules.txt:144", "fare_products.txt:102"},
		{hn, "hn3-nhon", "hn3-ga-ha-noi", "disabled", 0, "fare_leg_rules.txt:144", "fare_products.txt:103"},
		{hn, "hn3-nhon", "hn3-ga-ha-noi", "meritorious", 0, "fare_leg_rules.txt:144", "fare_products.txt:104"},
		{hn, "hn3-nhon", "hn3-ga-ha-noi", "student", 14000, "fare_leg_rules.txt:144", "fare_products.txt:105"},

		{hc, "hcm1-ben-thanh", "hcm1-ben-xe-suoi-tien", "adult", 19000, "fare_leg_rules.txt:14", "fare_products.txt:80"},
		{hc, "hcm1-ben-thanh", "hcm1-ben-xe-suoi-tien", "child_under_6", 0, "fare_leg_rules.txt:14", "fare_products.txt:81"},
		{hc, "hcm1-ben-thanh", "hcm1-ben-xe-suoi-tien", "senior_60_plus", 0, "fare_leg_rules.txt:14", "fare_products.txt:82"},
		{hc, "hcm1-ben-thanh", "hcm1-ben-xe-suoi-tien", "disabled", 0, "fare_leg_rules.txt:14", "fare_products.txt:83"},
		{hc, "hcm1-ben-thanh", "hcm1-ben-xe-suoi-tien", "meritorious", 0, "fare_leg_rules.txt:14", "fare_products.txt:84"},
		{hc, "hcm1-ben-thanh", "hcm1-ben-xe-suoi-tien", "student", 19000, "fare_leg_rules.txt:14", "fare_products.txt:85"},

		// Same station: the category's minimum, 0 for a free one.
		{hn, "hn3-cau-giay", "hn3-cau-giay", "senior_60_plus", 0, SameStationRuleID, "fare_products.txt:66"},
		{hn, "hn3-cau-giay", "hn3-cau-giay", "student", 8000, SameStationRuleID, "fare_products.txt:69"},
		{hc, "hcm1-ba-son", "hcm1-ba-son", "adult", 6000, SameStationRuleID, "fare_products.txt:2"},
	} {
		q, err := tc.tab.PriceFor(Query{From: tc.from, To: tc.to, Category: tc.category, At: at})
		if err != nil {
			t.Errorf("PriceFor(%s, %s, %q): %v", tc.from, tc.to, tc.category, err)
			continue
		}
		wantCat := tc.category
		if wantCat == "" {
			wantCat = "adult"
		}
		if !q.Amount.Equal(vnd(tc.want)) || q.RuleID != tc.rule || q.ProductRowID != tc.row || q.Category != wantCat {
			t.Errorf("PriceFor(%s, %s, %q) = %s %s %s %s, want %d %s %s %s", tc.from, tc.to, tc.category,
				q.Amount, q.Category, q.RuleID, q.ProductRowID, tc.want, wantCat, tc.rule, tc.row)
		}
	}
}

func TestPriceForErrors(t *testing.T) {
	hn := hanoi(t)
	for _, tc := range []struct {
		q    Query
		want error
	}{
		{Query{From: "hn2a-cat-linh", To: "hn2a-lang", Category: "pensioner"}, ErrUnknownCategory},
		{Query{From: "hn3-nhon", To: "hn3-cau-giay", Category: "worker_industrial_zone"}, ErrNoFareRule},
		{Query{From: "hn3-nhon", To: "hn3-nhon", Category: "worker_industrial_zone"}, ErrNoFareRule},
		{Query{From: "hn2a-cat-linh", To: "hn3-cat-linh"}, ErrNoFareRule}, // two networks: a transfer
		{Query{From: "hn2a-cat-linh", To: "hn3-nowhere"}, ErrUnknownStop},
	} {
		if _, err := hn.PriceFor(tc.q); !errors.Is(err, tc.want) {
			t.Errorf("PriceFor(%+v) err = %v, want %v", tc.q, err, tc.want)
		}
	}
}

func TestFareBoundsByCategory(t *testing.T) {
	hn := hanoi(t)
	for _, tc := range []struct {
		network, category string
		min, max          int64
	}{
		{"hn2a", "", 8000, 15000},
		{"hn2a", "adult", 8000, 15000},
		{"hn2a", "senior_60_plus", 0, 0},
		{"hn2a", "student", 8000, 15000},
		{"hn3", "worker_industrial_zone", 0, 0}, // not sold there
		{"hn3", "child_under_6", 0, 0},
		{"hn3", "student", 8000, 14000},
		{"hn3", "pensioner", 0, 0},
	} {
		if got := hn.MinFareFor(tc.network, tc.category); !got.Equal(vnd(tc.min)) {
			t.Errorf("MinFareFor(%s, %s) = %s, want %d", tc.network, tc.category, got, tc.min)
		}
		if got := hn.MaxFareFor(tc.network, tc.category); !got.Equal(vnd(tc.max)) {
			t.Errorf("MaxFareFor(%s, %s) = %s, want %d", tc.network, tc.category, got, tc.max)
		}
	}
}

// "Cheapest" is read from the data: a concession dearer than the default is
// never chosen, a category without fares in a network is never chosen there,
// and a category without vnpass_eligibility is never derived.
func TestCategoryRanking(t *testing.T) {
	fsys := baseFeed()
	set(fsys, "rider_categories.txt", categoriesHeader+
		"adult,Adult,1,,\n"+
		"tourist,Tourist,0,,age>=18\n"+ // line 3: dearer than adult
		"student,Student,0,,student\n"+ // line 4: cheaper than adult
		"group,Group,0,,\n"+ // line 5: sold at a counter, never derived
		"kid,Kid,0,,age<12\n") // line 6: no fares of its own
	set(fsys, "fare_products.txt", "fare_product_id,rider_category_id,amount,currency\n"+
		"p8,adult,8000,VND\np8,tourist,9000,VND\np8,student,5000,VND\np8,group,1000,VND\n"+
		"p9,adult,9000,VND\np9,tourist,10000,VND\np9,student,6000,VND\np9,group,1000,VND\n")
	tab, err := LoadGTFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rider Rider
		want  string
	}{
		{Rider{Age: 30}, "adult"},
		{Rider{Age: 30, Student: true}, "student"},
		{Rider{Age: 8}, "adult"}, // kid has no fares in n
	} {
		if got := tab.Category(tc.rider, "n"); got != tc.want {
			t.Errorf("Category(%+v) = %q, want %q", tc.rider, got, tc.want)
		}
	}
	// A category that is not derived can still be priced when asked for.
	if q, err := tab.PriceFor(Query{From: "a", To: "c", Category: "group"}); err != nil || !q.Amount.Equal(vnd(1000)) {
		t.Errorf("PriceFor(group) = %+v, %v", q, err)
	}
}

func TestParseEligibility(t *testing.T) {
	for in, want := range map[string]eligibility{
		"age<6":       {eligAgeUnder, 6},
		"age>=60":     {eligAgeFrom, 60},
		"age<150":     {eligAgeUnder, 150},
		"disabled":    {eligDisabled, 0},
		"meritorious": {eligMeritorious, 0},
		"student":     {eligStudent, 0},
		"worker":      {eligWorker, 0},
	} {
		got, reason := parseEligibility(in)
		if reason != "" || got != want {
			t.Errorf("parseEligibility(%q) = %+v, %q", in, got, reason)
		}
	}
	for _, in := range []string{"age<151", "age<", "age>60", "age<=6", "Student", "age< 6", "age<-1"} {
		if _, reason := parseEligibility(in); reason == "" {
			t.Errorf("parseEligibility(%q) accepted", in)
		}
	}
}
