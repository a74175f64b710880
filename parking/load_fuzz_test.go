package parking

import (
	"testing"
	"testing/fstest"
	"time"
)

// FuzzLoad: whatever tariffs.csv and lots.csv an operator supplies, Load
// answers an error or a catalogue, never a panic; every tariff of a loaded
// catalogue quotes a stay without panicking.
func FuzzLoad(f *testing.F) {
	tariffs, err := shipped.ReadFile("data/tariffs.csv")
	if err != nil {
		f.Fatal(err)
	}
	lots, err := shipped.ReadFile("data/lots.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tariffs, lots)
	f.Add([]byte("tariff_id,city,vehicle_class,rule,start,end,value,source\n"), []byte(""))
	f.Add([]byte("tariff_id,city,vehicle_class,rule,start,end,value,source\nt,hn,car,hourly,1,0,1e400,x\n"), lots)
	f.Add([]byte("tariff_id,city,vehicle_class,rule,start,end,value,source\nt,hn,motorbike,day,25:99,-1,5000,x\n"), lots)
	f.Fuzz(func(t *testing.T, tariffs, lots []byte) {
		c, err := Load(fstest.MapFS{"tariffs.csv": {Data: tariffs}, "lots.csv": {Data: lots}})
		if err != nil {
			return
		}
		in := time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)
		for _, l := range c.Lots() {
			l.OpenAt(in)
			for _, tf := range l.Tariffs {
				for _, stay := range []time.Duration{0, time.Minute, 5 * time.Hour, 49 * time.Hour} {
					tf.Quote(in, in.Add(stay), nil)
				}
			}
		}
	})
}
