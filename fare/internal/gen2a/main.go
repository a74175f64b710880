// Command gen2a writes the GTFS fare files of Hanoi Metro Line 2A
// (Cát Linh - Hà Đông): stops, one area per station, the fare products and the
// full origin-destination matrix of fare leg rules.
//
// The fare of a journey is 7.000 VND + 600 VND per km of chainage between the
// two stations, rounded up to the next 1.000 VND and held within
// 8.000-15.000 VND (see fare/data/hanoi/README.md). networks.txt,
// rider_categories.txt and fare_media.txt are written by hand; the ids below
// must match them, which loading the data checks.
//
//	go generate ./fare   # runs: go run ./internal/gen2a -out data/hanoi
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
)

const (
	networkID  = "hn2a"
	legGroupID = "hn2a"
	categoryID = "adult"
	mediaID    = "vneid"
	stopPrefix = "hn2a-"
)

// station is one Line 2A station in line order. km is the approximate
// cumulative chainage from Cát Linh; lat and lon are WGS84, approximate.
type station struct {
	slug, name string
	lat, lon   string
	km         string
}

var stations = []station{
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
}

var (
	baseFare  = decimal.NewFromInt(7000)
	perKm     = decimal.NewFromInt(600)
	fareStep  = decimal.NewFromInt(1000)
	minFare   = decimal.NewFromInt(8000)
	maxFare   = decimal.NewFromInt(15000)
	stepPlace = int32(-3) // RoundCeil(-3): up to the next 1.000
)

// fareFor is the one place the Line 2A distance fare is computed and rounded.
func fareFor(km decimal.Decimal) decimal.Decimal {
	f := baseFare.Add(perKm.Mul(km)).RoundCeil(stepPlace)
	f = decimal.Max(f, minFare)
	f = decimal.Min(f, maxFare)
	return f
}

func productID(amount decimal.Decimal) string { return fmt.Sprintf("%s-%s", networkID, amount) }

// dong formats an amount the Vietnamese way: 15000 -> "15.000".
func dong(amount decimal.Decimal) string {
	s := amount.String()
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s station) id() string { return stopPrefix + s.slug }

// distance is the chainage between two stations, in km.
func distance(a, b station) decimal.Decimal {
	return decimal.RequireFromString(b.km).Sub(decimal.RequireFromString(a.km)).Abs()
}

// generate returns the generated files by name.
func generate() (map[string][]byte, error) {
	out := make(map[string][]byte)

	stops := [][]string{{"stop_id", "stop_name", "stop_lat", "stop_lon"}}
	areas := [][]string{{"area_id", "area_name"}}
	stopAreas := [][]string{{"area_id", "stop_id"}}
	for _, s := range stations {
		// One area per station; the area takes the station's id.
		stops = append(stops, []string{s.id(), s.name, s.lat, s.lon})
		areas = append(areas, []string{s.id(), s.name})
		stopAreas = append(stopAreas, []string{s.id(), s.id()})
	}

	rules := [][]string{{"leg_group_id", "network_id", "from_area_id", "to_area_id", "fare_product_id"}}
	used := make(map[string]decimal.Decimal)
	for _, a := range stations {
		for _, b := range stations {
			if a == b {
				continue // same station: the engine's documented policy, not a rule
			}
			f := fareFor(distance(a, b))
			used[f.String()] = f
			rules = append(rules, []string{legGroupID, networkID, a.id(), b.id(), productID(f)})
		}
	}

	products := [][]string{{"fare_product_id", "fare_product_name", "rider_category_id", "fare_media_id", "amount", "currency"}}
	for f := minFare; f.LessThanOrEqual(maxFare); f = f.Add(fareStep) {
		if _, ok := used[f.String()]; !ok {
			return nil, fmt.Errorf("fare %s is in range but no journey costs it", f)
		}
		products = append(products, []string{productID(f), "Vé lượt tuyến 2A " + dong(f) + " đ", categoryID, mediaID, f.String(), "VND"})
	}
	if len(used) != len(products)-1 {
		return nil, fmt.Errorf("fares outside %s-%s in use", minFare, maxFare)
	}

	for name, recs := range map[string][][]string{
		"stops.txt":          stops,
		"areas.txt":          areas,
		"stop_areas.txt":     stopAreas,
		"fare_products.txt":  products,
		"fare_leg_rules.txt": rules,
	} {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		if err := w.WriteAll(recs); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = buf.Bytes()
	}
	return out, nil
}

// matrix is the fare table in Markdown, for the data README.
func matrix() string {
	var b strings.Builder
	b.WriteString("| from \\ to |")
	for _, s := range stations {
		b.WriteString(" " + s.name + " |")
	}
	b.WriteString("\n|---|")
	for range stations {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, a := range stations {
		b.WriteString("| " + a.name + " |")
		for _, c := range stations {
			if a == c {
				b.WriteString(" – |")
				continue
			}
			b.WriteString(" " + dong(fareFor(distance(a, c))) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func main() {
	dir := flag.String("out", "fare/data/hanoi", "directory to write the GTFS files into")
	printMatrix := flag.Bool("matrix", false, "print the fare matrix as Markdown instead of writing files")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("gen2a: ")

	if *printMatrix {
		fmt.Print(matrix())
		return
	}
	files, err := generate()
	if err != nil {
		log.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(*dir, name), data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
