package fare

import (
	"embed"
	"io/fs"
)

// The fare data vnpass ships, one feed per city: each city's fares are set by
// its own People's Committee and published by its own operators, and an
// operator's own directory (os.DirFS) replaces a city's feed whole; files are
// not merged.
//
//go:embed data/hanoi/*.txt data/hcmc/*.txt
var shipped embed.FS

func sub(dir string) fs.FS {
	f, err := fs.Sub(shipped, dir)
	if err != nil {
		panic(err) // a constant, valid path: cannot happen
	}
	return f
}

// HanoiData returns the shipped Hanoi GTFS fare files (Metro Lines 2A and 3),
// rooted so that LoadGTFS finds networks.txt at the top.
func HanoiData() fs.FS { return sub("data/hanoi") }

// HCMCData returns the shipped Ho Chi Minh City GTFS fare files (Metro Line 1).
func HCMCData() fs.FS { return sub("data/hcmc") }

// Hanoi loads the shipped Hanoi fare data.
func Hanoi() (*Table, error) { return LoadGTFS(HanoiData()) }

// HCMC loads the shipped Ho Chi Minh City fare data.
func HCMC() (*Table, error) { return LoadGTFS(HCMCData()) }
