package rail

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestShipped(t *testing.T) {
	n, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	st, ok := n.Gate("ga-ha-noi-g01", "ga-ha-noi")
	if !ok || st.Code != "HNO" || st.Before != time.Hour || st.After != 5*time.Minute {
		t.Fatalf("Hanoi Station gate: %+v %v", st, ok)
	}
	if _, ok := n.Gate("ga-ha-noi-g01", "hn2a-cat-linh"); ok {
		t.Error("a gate answered for another site")
	}
	if _, ok := n.Station("HNO"); !ok {
		t.Error("HNO not found by code")
	}
}

func TestLoadNamesFileAndLine(t *testing.T) {
	const head = "site_id,code,name_vi,name_en,admit_before_min,admit_after_min\n"
	const good = "ga-ha-noi,HNO,Ga Hà Nội,Hanoi Station,60,5\n"
	cases := map[string]struct{ stations, gates, want string }{
		"bad minutes":     {head + good + "ga-x,GX,X,X,sixty,5\n", "device_id,site_id\n", "stations.csv:3: admit_before_min"},
		"bad code":        {head + "# comment\n" + "ga-ha-noi,hno,Ga,Station,60,5\n", "device_id,site_id\n", "stations.csv:3: code"},
		"duplicate site":  {head + good + good, "device_id,site_id\n", "stations.csv:3: site ga-ha-noi listed twice"},
		"field count":     {head + "ga-ha-noi,HNO\n", "device_id,site_id\n", "stations.csv:2:"},
		"wrong header":    {"site,code,a,b,c,d\n", "device_id,site_id\n", "stations.csv:1: header"},
		"unknown station": {head + good, "device_id,site_id\ng1,ga-ha-noi\ng2,ga-sai-gon\n", "gates.csv:3: site_id \"ga-sai-gon\""},
		"bad device":      {head + good, "device_id,site_id\nG/1,ga-ha-noi\n", "gates.csv:2: device_id"},
		"no gates file":   {head + good, "", "gates.csv"},
	}
	for name, c := range cases {
		fs := fstest.MapFS{"stations.csv": {Data: []byte(c.stations)}}
		if c.gates != "" {
			fs["gates.csv"] = &fstest.MapFile{Data: []byte(c.gates)}
		}
		_, err := Load(fs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, c.want)
		}
	}
}
