package fare

import (
	"embed"
	"io/fs"
)

// hanoiFiles is the fare data vnpass ships for Hanoi. An operator's own
// directory (os.DirFS) replaces it whole; files are not merged.
//
//go:embed data/hanoi/*.txt
var hanoiFiles embed.FS

// HanoiData returns the shipped Hanoi GTFS fare files, rooted so that
// LoadGTFS finds networks.txt at the top.
func HanoiData() fs.FS {
	sub, err := fs.Sub(hanoiFiles, "data/hanoi")
	if err != nil {
		panic(err) // a constant, valid path: cannot happen
	}
	return sub
}

// Hanoi loads the shipped Hanoi fare data (Metro Line 2A for now).
func Hanoi() (*Table, error) { return LoadGTFS(HanoiData()) }
