package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

const dataDir = "../../data"

// The committed data must be exactly what the generator writes, so an edit
// to the generator without `go generate ./fare` fails here.
func TestCommittedDataIsGenerated(t *testing.T) {
	for _, c := range cities {
		files, err := c.generate()
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(dataDir, c.dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%s differs from the generator's output; run go generate ./fare", c.dir, name)
			}
		}
	}
}

func TestReadmeHasMatrices(t *testing.T) {
	for _, c := range cities {
		readme, err := os.ReadFile(filepath.Join(dataDir, c.dir, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range c.lines {
			if !strings.Contains(string(readme), l.matrix()) {
				t.Errorf("%s/README.md: fare matrix of %s differs from go run ./fare/internal/genfare -matrix %s", c.dir, l.network, l.network)
			}
		}
	}
}

func TestFareFor(t *testing.T) {
	for _, tc := range []struct {
		line     line
		km, want string
	}{
		{line2A, "0", "8000"},       // 7.000 clamped up to the minimum
		{line2A, "1.60", "8000"},    // 7.960 -> 8.000
		{line2A, "1.67", "9000"},    // 8.002 -> 9.000
		{line2A, "5", "10000"},      // exactly 10.000 stays
		{line2A, "13.05", "15000"},  // 14.830 -> 15.000
		{line2A, "20", "15000"},     // clamped to the maximum
		{line2A, "3.333", "9000"},   // 8.999,8 -> 9.000
		{line2A, "3.3334", "10000"}, // 9.000,04 -> 10.000

		{line3, "1.80", "8000"},   // 7.900 -> 8.000
		{line3, "2", "8000"},      // exactly 8.000
		{line3, "2.01", "9000"},   // 8.005 -> 9.000
		{line3, "8.50", "12000"},  // 11.250 -> 12.000: Nhổn - Cầu Giấy, the published maximum
		{line3, "11.00", "13000"}, // 12.500 -> 13.000: Nhổn - Cát Linh
		{line3, "12.50", "14000"}, // 13.250 -> 14.000: the whole line
		{line3, "30", "15000"},    // clamped

		{lineHCM1, "0.75", "6000"},   // 5.525 -> 6.000
		{lineHCM1, "1.42", "6000"},   // 5.994 -> 6.000
		{lineHCM1, "1.43", "7000"},   // 6.001 -> 7.000
		{lineHCM1, "19.70", "19000"}, // 18.790 -> 19.000
		{lineHCM1, "0", "6000"},      // clamped up
		{lineHCM1, "25", "19000"},    // clamped down
	} {
		got := tc.line.formula.fareFor(decimal.RequireFromString(tc.km))
		if !got.Equal(decimal.RequireFromString(tc.want)) {
			t.Errorf("%s fareFor(%s km) = %s, want %s", tc.line.network, tc.km, got, tc.want)
		}
	}
}

func TestDong(t *testing.T) {
	for in, want := range map[int64]string{8000: "8.000", 15000: "15.000", 500: "500", 1234567: "1.234.567", -7000: "-7.000"} {
		if got := dong(decimal.NewFromInt(in)); got != want {
			t.Errorf("dong(%d) = %q, want %q", in, got, want)
		}
	}
}
