package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

const dataDir = "../../data/hanoi"

// The committed data must be exactly what the generator writes, so an edit
// to the generator without `go generate ./fare` fails here.
func TestCommittedDataIsGenerated(t *testing.T) {
	files, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output; run go generate ./fare", name)
		}
	}
}

func TestReadmeHasMatrix(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(dataDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), matrix()) {
		t.Error("README.md fare matrix differs from go run ./fare/internal/gen2a -matrix")
	}
}

func TestFareFor(t *testing.T) {
	for _, tc := range []struct{ km, want string }{
		{"0", "8000"},       // 7.000 clamped up to the minimum
		{"1.60", "8000"},    // 7.960 -> 8.000
		{"1.67", "9000"},    // 8.002 -> 9.000
		{"5", "10000"},      // exactly 10.000 stays
		{"13.05", "15000"},  // 14.830 -> 15.000
		{"20", "15000"},     // clamped to the maximum
		{"3.333", "9000"},   // 8.999,8 -> 9.000
		{"3.3334", "10000"}, // 9.000,04 -> 10.000
	} {
		got := fareFor(decimal.RequireFromString(tc.km))
		if !got.Equal(decimal.RequireFromString(tc.want)) {
			t.Errorf("fareFor(%s km) = %s, want %s", tc.km, got, tc.want)
		}
	}
}

func TestDong(t *testing.T) {
	for in, want := range map[int64]string{8000: "8.000", 15000: "15.000", 500: "500", 1234567: "1.234.567"} {
		if got := dong(decimal.NewFromInt(in)); got != want {
			t.Errorf("dong(%d) = %q, want %q", in, got, want)
		}
	}
}
