// Command genfare writes the generated GTFS Fares v2 files vnpass ships:
// Hanoi Metro Lines 2A and 3 (fare/data/hanoi) and HCMC Metro Line 1
// (fare/data/hcmc). For each line it writes the stops, one area per station,
// the single-journey fare products of every rider category, the passes, the
// full origin-destination matrix of fare leg rules and, where two lines meet,
// the transfer rules.
//
// A single fare is base + perKm × km of chainage between the two stations,
// rounded up to the next 1.000 VND and held within [min, max] (see each
// city's README.md). networks.txt, rider_categories.txt and fare_media.txt
// are written by hand; the ids below must match them, which loading the data
// checks.
//
//	go generate ./fare   # runs: go run ./internal/genfare -out data
//	go run ./fare/internal/genfare -matrix hn3   # a line's fare matrix in Markdown
package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/money"
)

// Rider categories, as in the hand-written rider_categories.txt files.
const (
	adult       = "adult"
	child       = "child_under_6"
	senior      = "senior_60_plus"
	disabled    = "disabled"
	meritorious = "meritorious"
	student     = "student"
	worker      = "worker_industrial_zone"
)

// freeCategories ride every shipped line free (single fare 0).
var freeCategories = []string{child, senior, disabled, meritorious}

const mediaID = "vneid"

// station is one station in line order. km is the approximate cumulative
// chainage from the line's first station; lat and lon are WGS84, approximate.
type station struct {
	slug, name string
	lat, lon   string
	km         string
}

// formula is a line's distance fare: base + perKm × km, rounded up to the
// next 1.000 VND, held within [min, max].
type formula struct{ base, perKm, min, max int64 }

// pass is a fare product with a validity instead of an origin and a
// destination. prices lists category and amount, in category order.
type pass struct {
	slug, name string
	amount     int    // vnpass_duration_amount
	unit       string // vnpass_duration_unit: day or month
	prices     []price
}

type price struct {
	category string
	amount   int64
}

type line struct {
	network string // network_id, stop_id prefix and leg group prefix
	label   string // in product names: "tuyến 2A"
	formula formula
	// concessions are the paying categories beyond adult that the line
	// sells passes to; their single fare is the adult fare.
	concessions []string
	stations    []station
	passes      []pass
}

// interchange is a station where two lines meet, with separate gates for
// each line: a rider taps out of one line and into the other.
type interchange struct {
	slug             string // the station's slug on both lines
	lineA, lineB     string // network ids
	durationLimit    int    // seconds between the exit and the next entry
	discountProduct  string
	discountName     string
	discount         int64 // amount of the transfer product (negative: a discount)
	fareTransferType int
}

type city struct {
	dir          string
	lines        []line
	interchanges []interchange
}

var (
	line2A = line{
		network:     "hn2a",
		label:       "tuyến 2A",
		formula:     formula{base: 7000, perKm: 600, min: 8000, max: 15000},
		concessions: []string{student, worker},
		stations: []station{
			{"cat-linh", "Cát Linh", "21.028600", "105.827600", "0.00"},
			{"la-thanh", "La Thành", "21.021500", "105.824600", "0.90"},
			{"thai-ha", "Thái Hà", "21.015200", "105.820000", "1.80"},
			{"lang", "Láng", "21.006800", "105.821500", "2.75"},
			{"thuong-dinh", "Thượng Đình", "20.999000", "105.815000", "3.90"},
			{"vanh-dai-3", "Vành Đai 3", "20.993300", "105.801000", "5.45"},
			{"phung-khoang", "Phùng Khoang", "20.988000", "105.793500", "6.45"},
			{"van-quan", "Văn Quán", "20.981000", "105.787000", "7.50"},
			{"ha-dong", "Hà Đông", "20.972500", "105.778500", "8.85"},
			{"la-khe", "La Khê", "20.965500", "105.769000", "10.15"},
			{"van-khe", "Văn Khê", "20.959000", "105.759000", "11.45"},
			{"yen-nghia", "Yên Nghĩa", "20.950500", "105.747000", "13.05"},
		},
		passes: []pass{
			{slug: "day", name: "Vé ngày tuyến 2A", amount: 1, unit: "day",
				prices: []price{{adult, 30000}, {student, 30000}, {worker, 30000}}},
			{slug: "month", name: "Vé tháng tuyến 2A", amount: 1, unit: "month",
				prices: []price{{adult, 200000}, {student, 100000}, {worker, 100000}}},
		},
	}

	line3 = line{
		network: "hn3",
		label:   "tuyến 3",
		// 500 VND/km is the round rate at which the published 8.5 km
		// elevated section tops out at the published 12.000 (600 would give
		// 13.000); the underground section carries the same formula on.
		formula:     formula{base: 7000, perKm: 500, min: 8000, max: 15000},
		concessions: []string{student},
		stations: []station{
			// Elevated, open since 8 Aug 2024.
			{"nhon", "Nhổn", "21.052800", "105.730900", "0.00"},
			{"minh-khai", "Minh Khai", "21.048200", "105.745700", "1.80"},
			{"phu-dien", "Phú Diễn", "21.045100", "105.756600", "3.10"},
			{"cau-dien", "Cầu Diễn", "21.039700", "105.764900", "4.25"},
			{"le-duc-tho", "Lê Đức Thọ", "21.038000", "105.774500", "5.35"},
			{"dai-hoc-quoc-gia", "Đại học Quốc gia", "21.037400", "105.782600", "6.30"},
			{"chua-ha", "Chùa Hà", "21.036300", "105.793200", "7.50"},
			{"cau-giay", "Cầu Giấy", "21.032900", "105.801000", "8.50"},
			// Underground, under construction.
			{"kim-ma", "Kim Mã", "21.031500", "105.813900", "9.75"},
			{"cat-linh", "Cát Linh", "21.029000", "105.826800", "11.00"},
			{"van-mieu", "Văn Miếu", "21.028000", "105.835800", "11.90"},
			{"ga-ha-noi", "Ga Hà Nội", "21.024600", "105.841200", "12.50"},
		},
		passes: []pass{
			{slug: "day", name: "Vé ngày tuyến 3", amount: 1, unit: "day",
				prices: []price{{adult, 24000}, {student, 24000}}},
			{slug: "month", name: "Vé tháng tuyến 3", amount: 1, unit: "month",
				prices: []price{{adult, 200000}, {student, 100000}}},
		},
	}

	lineHCM1 = line{
		network: "hcm1",
		label:   "tuyến số 1",
		// Cashless fares (VNeID is cashless): 6.000-19.000. 5.000 + 700/km
		// reaches both published ends without clamping.
		formula:     formula{base: 5000, perKm: 700, min: 6000, max: 19000},
		concessions: []string{student},
		stations: []station{
			{"ben-thanh", "Bến Thành", "10.772100", "106.698300", "0.00"},
			{"nha-hat-thanh-pho", "Nhà hát Thành phố", "10.776400", "106.703100", "0.75"},
			{"ba-son", "Ba Son", "10.782600", "106.707200", "1.65"},
			{"van-thanh", "Văn Thánh", "10.795600", "106.715400", "3.45"},
			{"tan-cang", "Tân Cảng", "10.798600", "106.723600", "4.45"},
			{"thao-dien", "Thảo Điền", "10.802600", "106.733700", "5.75"},
			{"an-phu", "An Phú", "10.802300", "106.742400", "6.75"},
			{"rach-chiec", "Rạch Chiếc", "10.808600", "106.755200", "8.40"},
			{"phuoc-long", "Phước Long", "10.821300", "106.759000", "10.00"},
			{"binh-thai", "Bình Thái", "10.832700", "106.764100", "11.45"},
			{"thu-duc", "Thủ Đức", "10.846100", "106.771600", "13.30"},
			{"khu-cong-nghe-cao", "Khu Công nghệ cao", "10.859200", "106.789100", "15.85"},
			{"dai-hoc-quoc-gia", "Đại học Quốc gia", "10.866400", "106.801600", "17.55"},
			{"ben-xe-suoi-tien", "Bến xe Suối Tiên", "10.879400", "106.814600", "19.70"},
		},
		passes: []pass{
			{slug: "day", name: "Vé 1 ngày tuyến số 1", amount: 1, unit: "day",
				prices: []price{{adult, 40000}, {student, 40000}}},
			{slug: "3day", name: "Vé 3 ngày tuyến số 1", amount: 3, unit: "day",
				prices: []price{{adult, 90000}, {student, 90000}}},
			{slug: "month", name: "Vé tháng tuyến số 1", amount: 1, unit: "month",
				prices: []price{{adult, 300000}, {student, 150000}}},
		},
	}

	cities = []city{
		{
			dir:   "hanoi",
			lines: []line{line2A, line3},
			interchanges: []interchange{{
				slug: "cat-linh", lineA: "hn2a", lineB: "hn3",
				durationLimit:    3600,
				discountProduct:  "hn-transfer-cat-linh",
				discountName:     "Giảm giá chuyển tuyến 2A - 3 tại Cát Linh",
				discount:         -7000,
				fareTransferType: 1,
			}},
		},
		{dir: "hcmc", lines: []line{lineHCM1}},
	}
)

// Columns of the generated files. rule_priority is present, and empty, so
// that the empty areas of a pass's rule mean "any area" (GTFS: without the
// column, an empty area matches only areas no other rule names).
var (
	productHeader  = []string{"fare_product_id", "fare_product_name", "rider_category_id", "fare_media_id", "amount", "currency", "vnpass_duration_amount", "vnpass_duration_unit"}
	legRuleHeader  = []string{"leg_group_id", "network_id", "from_area_id", "to_area_id", "fare_product_id", "rule_priority"}
	transferHeader = []string{"from_leg_group_id", "to_leg_group_id", "transfer_count", "duration_limit", "duration_limit_type", "fare_transfer_type", "fare_product_id"}
)

// durationLimitExitToEntry is duration_limit_type 2: from the arrival fare
// validation of the current leg (the exit tap) to the departure fare
// validation of the next leg (the entry tap).
const durationLimitExitToEntry = "2"

// fareFor is the one place a distance fare is computed and rounded.
func (f formula) fareFor(km decimal.Decimal) decimal.Decimal {
	v := decimal.NewFromInt(f.base).Add(decimal.NewFromInt(f.perKm).Mul(km)).RoundCeil(-3)
	v = decimal.Max(v, decimal.NewFromInt(f.min))
	return decimal.Min(v, decimal.NewFromInt(f.max))
}

func (l line) stopID(s station) string { return l.network + "-" + s.slug }

func (l line) productID(amount decimal.Decimal) string { return l.network + "-" + amount.String() }

// fare is the adult single fare between two stations of the line.
func (l line) fare(a, b station) decimal.Decimal {
	km := decimal.RequireFromString(b.km).Sub(decimal.RequireFromString(a.km)).Abs()
	return l.formula.fareFor(km)
}

// categories lists the categories the line prices, in rider_categories.txt
// order: adult, the free ones, then the concessions.
func (l line) categories() []string {
	out := append([]string{adult}, freeCategories...)
	return append(out, l.concessions...)
}

// legGroup names the group of a journey from a to b. A journey ending or
// starting at an interchange gets its own group, so that a transfer rule
// can say "from a 2A leg into Cát Linh to a Line 3 leg out of Cát Linh";
// GTFS transfer rules match leg groups, not stops.
func (c city) legGroup(l line, a, b station) string {
	for _, x := range c.interchanges {
		if x.lineA != l.network && x.lineB != l.network {
			continue
		}
		switch x.slug {
		case b.slug:
			return l.network + "-to-" + x.slug
		case a.slug:
			return l.network + "-from-" + x.slug
		}
	}
	return l.network
}

// dong formats an amount the Vietnamese way without the currency sign:
// 15000 -> "15.000" (money.Format is the one place that groups digits).
func dong(amount decimal.Decimal) string {
	return strings.TrimSuffix(money.Format(amount), " ₫")
}

// generate returns the generated files of a city by name.
func (c city) generate() (map[string][]byte, error) {
	stops := [][]string{{"stop_id", "stop_name", "stop_lat", "stop_lon"}}
	areas := [][]string{{"area_id", "area_name"}}
	stopAreas := [][]string{{"area_id", "stop_id"}}
	products := [][]string{productHeader}
	rules := [][]string{legRuleHeader}
	var passRules [][]string

	for _, l := range c.lines {
		for _, s := range l.stations {
			// One area per station; the area takes the station's id.
			stops = append(stops, []string{l.stopID(s), s.name, s.lat, s.lon})
			areas = append(areas, []string{l.stopID(s), s.name})
			stopAreas = append(stopAreas, []string{l.stopID(s), l.stopID(s)})
		}

		used := make(map[string]bool)
		for _, a := range l.stations {
			for _, b := range l.stations {
				if a == b {
					continue // same station: the engine's documented policy, not a rule
				}
				f := l.fare(a, b)
				if !used[f.String()] {
					used[f.String()] = true
				}
				rules = append(rules, []string{c.legGroup(l, a, b), l.network, l.stopID(a), l.stopID(b), l.productID(f), ""})
			}
		}
		// One product per fare amount, in increasing order, with a row for
		// each category the line prices.
		for f := decimal.NewFromInt(l.formula.min); f.LessThanOrEqual(decimal.NewFromInt(l.formula.max)); f = f.Add(decimal.NewFromInt(1000)) {
			if !used[f.String()] {
				continue
			}
			delete(used, f.String())
			name := "Vé lượt " + l.label + " " + dong(f) + " đ"
			for _, cat := range l.categories() {
				amount := f
				if isFree(cat) {
					amount = decimal.Zero
				}
				products = append(products, []string{l.productID(f), name, cat, mediaID, amount.String(), "VND", "", ""})
			}
		}
		if len(used) != 0 {
			return nil, fmt.Errorf("%s: fares outside %d-%d in use", l.network, l.formula.min, l.formula.max)
		}
		for _, p := range l.passes {
			id := l.network + "-" + p.slug
			for _, pr := range p.prices {
				products = append(products, []string{id, p.name, pr.category, mediaID, fmt.Sprint(pr.amount), "VND", fmt.Sprint(p.amount), p.unit})
			}
			// Empty areas: the pass pays for any journey in the network.
			passRules = append(passRules, []string{"", l.network, "", "", id, ""})
		}
	}
	rules = append(rules, passRules...)

	out := make(map[string][][]string)
	if len(c.interchanges) > 0 {
		transfers := [][]string{transferHeader}
		for _, x := range c.interchanges {
			products = append(products, []string{x.discountProduct, x.discountName, "", mediaID, fmt.Sprint(x.discount), "VND", "", ""})
			for _, dir := range [][2]string{{x.lineA, x.lineB}, {x.lineB, x.lineA}} {
				transfers = append(transfers, []string{
					dir[0] + "-to-" + x.slug, dir[1] + "-from-" + x.slug, "",
					fmt.Sprint(x.durationLimit), durationLimitExitToEntry, fmt.Sprint(x.fareTransferType), x.discountProduct,
				})
			}
		}
		out["fare_transfer_rules.txt"] = transfers
	}
	out["stops.txt"] = stops
	out["areas.txt"] = areas
	out["stop_areas.txt"] = stopAreas
	out["fare_products.txt"] = products
	out["fare_leg_rules.txt"] = rules

	files := make(map[string][]byte)
	for name, recs := range out {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		if err := w.WriteAll(recs); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", c.dir, name, err)
		}
		files[name] = buf.Bytes()
	}
	return files, nil
}

func isFree(category string) bool {
	for _, c := range freeCategories {
		if c == category {
			return true
		}
	}
	return false
}

// matrix is a line's adult fare table in Markdown, for the data README.
func (l line) matrix() string {
	var b strings.Builder
	b.WriteString("| from \\ to |")
	for _, s := range l.stations {
		b.WriteString(" " + s.name + " |")
	}
	b.WriteString("\n|---|")
	for range l.stations {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, a := range l.stations {
		b.WriteString("| " + a.name + " |")
		for _, c := range l.stations {
			if a == c {
				b.WriteString(" – |")
				continue
			}
			b.WriteString(" " + dong(l.fare(a, c)) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func findLine(network string) (line, bool) {
	for _, c := range cities {
		for _, l := range c.lines {
			if l.network == network {
				return l, true
			}
		}
	}
	return line{}, false
}

func main() {
	dir := flag.String("out", "fare/data", "directory holding one directory per city (hanoi, hcmc)")
	printMatrix := flag.String("matrix", "", "print the fare matrix of this network (hn2a, hn3, hcm1) as Markdown instead of writing files")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("genfare: ")

	if *printMatrix != "" {
		l, ok := findLine(*printMatrix)
		if !ok {
			log.Fatalf("no line %q", *printMatrix)
		}
		fmt.Print(l.matrix())
		return
	}
	for _, c := range cities {
		files, err := c.generate()
		if err != nil {
			log.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(*dir, c.dir, name), data, 0o644); err != nil {
				log.Fatal(err)
			}
		}
	}
}
