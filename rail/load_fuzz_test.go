package rail

import (
	"testing"
	"testing/fstest"
)

// FuzzLoad: whatever stations.csv and gates.csv are supplied, Load answers
// an error or a network, never a panic; a loaded network answers lookups.
func FuzzLoad(f *testing.F) {
	stations, err := shipped.ReadFile("data/stations.csv")
	if err != nil {
		f.Fatal(err)
	}
	gates, err := shipped.ReadFile("data/gates.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(stations, gates)
	f.Add(stations, []byte(""))
	f.Add([]byte("site_id,code,name_vi,name_en,admit_before_min,admit_after_min\nhn-ga,HNO,Ga,Station,99999999999999999999,-1\n"), gates)
	f.Fuzz(func(t *testing.T, stations, gates []byte) {
		n, err := Load(fstest.MapFS{"stations.csv": {Data: stations}, "gates.csv": {Data: gates}})
		if err != nil {
			return
		}
		n.Station("HNO")
		n.StationAt("hn-ga")
		n.Gate("hn-ga-g01", "hn-ga")
	})
}
