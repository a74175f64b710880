package parking

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/shopspring/decimal"
)

func catalogue(t *testing.T) *Catalogue {
	t.Helper()
	c, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// local is a local (UTC+7) time on 24-26 Nov 2026.
func local(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, Zone) }

func TestTariffs(t *testing.T) {
	c := catalogue(t)
	for _, tc := range []struct {
		tariff  string
		in, out time.Time
		want    int64
	}{
		// Hanoi motorbike: day 5.000 (06-18), night 8.000 (18-06), 12.000 per 24 h, 10 free minutes.
		{"hn-44-2017-motorbike", local(24, 7, 0), local(24, 7, 5), 0},
		{"hn-44-2017-motorbike", local(24, 7, 0), local(24, 7, 10), 0}, // grace is inclusive
		{"hn-44-2017-motorbike", local(24, 7, 0), local(24, 7, 11), 5000},
		{"hn-44-2017-motorbike", local(24, 7, 0), local(24, 17, 59), 5000},
		{"hn-44-2017-motorbike", local(24, 17, 0), local(24, 18, 0), 5000},  // leaves at the boundary
		{"hn-44-2017-motorbike", local(24, 17, 0), local(24, 18, 1), 12000}, // day + night 13.000, capped
		{"hn-44-2017-motorbike", local(24, 18, 0), local(24, 20, 0), 8000},
		{"hn-44-2017-motorbike", local(24, 5, 30), local(24, 5, 59), 8000},  // night before dawn
		{"hn-44-2017-motorbike", local(24, 5, 59), local(24, 6, 30), 12000}, // night then day
		{"hn-44-2017-motorbike", local(24, 23, 30), local(25, 0, 30), 8000}, // over midnight: one night
		{"hn-44-2017-motorbike", local(24, 19, 0), local(25, 5, 0), 8000},
		{"hn-44-2017-motorbike", local(24, 7, 0), local(25, 7, 0), 12000},            // exactly 24 h
		{"hn-44-2017-motorbike", local(24, 7, 0), local(25, 7, 30), 17000},           // 24 h wrap, then a day turn
		{"hn-44-2017-motorbike", local(24, 20, 0), local(25, 20, 30), 20000},         // 24 h wrap, then a night turn
		{"hn-44-2017-motorbike", local(24, 7, 0), local(26, 19, 0), 12000*2 + 12000}, // 2 days, then day+night capped
		// HCMC motorbike: day 4.000, night 6.000, no 24 h price (a day costs both).
		{"hcm-35-2018-motorbike", local(24, 8, 0), local(24, 12, 0), 4000},
		{"hcm-35-2018-motorbike", local(24, 17, 0), local(24, 19, 0), 10000},
		{"hcm-35-2018-motorbike", local(24, 5, 0), local(24, 19, 0), 10000}, // three turns, capped at a day
		{"hcm-35-2018-motorbike", local(24, 22, 0), local(25, 1, 0), 6000},
		{"hcm-35-2018-motorbike", local(24, 8, 0), local(25, 8, 0), 10000},
		{"hcm-35-2018-motorbike", local(24, 8, 0), local(25, 9, 0), 14000},
		// Hanoi car: 25.000 an hour for hours 1-2, 35.000 for 3-4, 45.000 from 5; every started hour.
		{"hn-44-2017-car", local(24, 9, 0), local(24, 9, 9), 0},
		{"hn-44-2017-car", local(24, 9, 0), local(24, 9, 11), 25000},
		{"hn-44-2017-car", local(24, 9, 0), local(24, 10, 0), 25000},
		{"hn-44-2017-car", local(24, 9, 0), local(24, 10, 1), 50000},
		{"hn-44-2017-car", local(24, 9, 0), local(24, 11, 0), 50000},
		{"hn-44-2017-car", local(24, 9, 0), local(24, 11, 1), 85000},
		{"hn-44-2017-car", local(24, 9, 0), local(24, 13, 0), 120000},
		{"hn-44-2017-car", local(24, 9, 0), local(24, 13, 1), 165000},
		{"hn-44-2017-car", local(24, 9, 0), local(24, 15, 0), 210000},
		{"hn-44-2017-car", local(24, 23, 0), local(25, 1, 30), 85000},                  // over midnight: hours, not days
		{"hn-44-2017-car", local(24, 9, 0), local(25, 9, 0), 50000 + 70000 + 20*45000}, // 24 h: no day price in 44/2017
		// HCMC car: 20.000 an hour for hours 1-2, 25.000 from hour 3.
		{"hcm-35-2018-car", local(24, 9, 0), local(24, 9, 30), 20000},
		{"hcm-35-2018-car", local(24, 9, 0), local(24, 12, 0), 65000},
		{"hcm-35-2018-car", local(24, 9, 0), local(24, 14, 59), 140000},
	} {
		tr, ok := c.Tariff(tc.tariff)
		if !ok {
			t.Fatalf("no tariff %s", tc.tariff)
		}
		q, err := tr.Quote(tc.in, tc.out, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !q.Amount.Equal(decimal.NewFromInt(tc.want)) {
			t.Errorf("%s %s -> %s: %s, want %d; steps %+v", tc.tariff, tc.in.Format("02 15:04"), tc.out.Format("02 15:04"), q.Amount, tc.want, q.Steps)
		}
		sum := decimal.Zero
		for _, s := range q.Steps {
			if !strings.HasPrefix(s.Rule, "tariffs.csv:") || s.VI == "" || s.EN == "" {
				t.Errorf("%s: step %+v names no data row", tc.tariff, s)
			}
			sum = sum.Add(s.Amount)
		}
		if !sum.Equal(q.Amount) {
			t.Errorf("%s: steps sum to %s, quote %s", tc.tariff, sum, q.Amount)
		}
	}
}

func TestSubscriptions(t *testing.T) {
	c := catalogue(t)
	moto, _ := c.Tariff("hn-44-2017-motorbike")
	from, until := SubscriptionPeriod(local(1, 15, 0).AddDate(0, 0, 23)) // bought 24 Nov 15:00
	if !from.Equal(local(24, 0, 0)) || !until.Equal(time.Date(2026, 12, 24, 0, 0, 0, 0, Zone)) {
		t.Fatalf("period %s - %s", from, until)
	}
	subs := []Subscription{
		{ID: 7, Plate: "29B112345", Tariff: moto.ID, From: from, Until: until},
		{ID: 8, Plate: "29B199999", Tariff: "hcm-35-2018-motorbike", From: from, Until: until},
	}
	for _, tc := range []struct {
		name    string
		plate   string
		in, out time.Time
		want    int64
	}{
		{"covered", "29B1-123.45", local(24, 7, 0), local(25, 22, 0), 0},
		{"another plate pays", "29B1-555.55", local(24, 7, 0), local(24, 9, 0), 5000},
		{"another city's subscription", "29B1-999.99", local(24, 7, 0), local(24, 9, 0), 5000},
		{"entered before it started", "29B1-123.45", local(23, 20, 0), local(24, 9, 0), 8000},
		{"left after it ended", "29B1-123.45", time.Date(2026, 12, 23, 20, 0, 0, 0, Zone), time.Date(2026, 12, 24, 5, 0, 0, 0, Zone), 8000},
	} {
		q, err := moto.Quote(tc.in, tc.out, ForPlate(subs, tc.plate))
		if err != nil {
			t.Fatal(err)
		}
		if !q.Amount.Equal(decimal.NewFromInt(tc.want)) {
			t.Errorf("%s: %s, want %d; %+v", tc.name, q.Amount, tc.want, q.Steps)
		}
	}
}

func TestQuoteRefusesExitBeforeEntry(t *testing.T) {
	moto, _ := catalogue(t).Tariff("hn-44-2017-motorbike")
	if _, err := moto.Quote(local(24, 9, 0), local(24, 8, 0), nil); !errors.Is(err, ErrTimeOrder) {
		t.Fatalf("err %v", err)
	}
}

func TestClassOf(t *testing.T) {
	for plate, want := range map[string]Class{"30A-123.45": Car, "51LD-001.23": Car, "29B1-123.45": Motorbike, "59X212345": Motorbike, "29-B1.123.45": Motorbike, "30A12345": Car} {
		if got, err := ClassOf(plate); err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", plate, got, err, want)
		}
	}
	for _, bad := range []string{"", "ABC", "3A-12345", "30-12345"} {
		if _, err := ClassOf(bad); !errors.Is(err, ErrBadPlate) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestLoadNamesFileAndLine(t *testing.T) {
	head := "tariff_id,city,vehicle_class,rule,start,end,value,source\n"
	lots := "lot_id,operator_id,city,name,address,lat,lon,opens,closes,motorbike_tariff,car_tariff,large_tariff,motorbike_capacity,car_capacity,large_capacity\n"
	for _, tc := range []struct{ tariffs, lots, want string }{
		{head + "a,hanoi,motorbike,turn,06:00,18:00,5000,\na,hanoi,motorbike,turn,25:00,06:00,8000,\n", lots, "tariffs.csv:3: time \"25:00\""},
		{head + "a,hanoi,boat,turn,06:00,18:00,5000,\n", lots, "tariffs.csv:2: vehicle_class"},
		{head + "c,hanoi,car,hourly,1,2,25000,\nc,hanoi,car,hourly,4,,45000,\n", lots, "tariffs.csv:3: hourly bands of c must follow on from hour 3"},
		{head + "a,hanoi,motorbike,turn,06:00,18:00,5000,\n", lots + "l1,op,hanoi,L,,21,105,00:00,24:00,zz,,,10,0,0\n", "lots.csv:2: motorbike_tariff \"zz\""},
		{head + "a,hanoi,motorbike,turn,06:00,18:00,5000,\n", lots + "l1,op,hanoi,L,,21,105,00:00,24:00,a,,,10,5,0\n", "lots.csv:2: 5 car spaces but no car_tariff"},
	} {
		_, err := Load(fstest.MapFS{"tariffs.csv": {Data: []byte(tc.tariffs)}, "lots.csv": {Data: []byte(tc.lots)}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %v, want %q", err, tc.want)
		}
	}
}

func TestShippedLots(t *testing.T) {
	c := catalogue(t)
	if len(c.Lots()) != 5 {
		t.Fatalf("%d lots", len(c.Lots()))
	}
	l, ok := c.Lot("hnp-ha-dong")
	if !ok || l.Capacity[Motorbike] != 300 || l.Tariffs[Car].ID != "hn-44-2017-car" || l.Takes(Large) {
		t.Fatalf("lot %+v", l)
	}
	if l.OpenAt(local(24, 4, 59)) || !l.OpenAt(local(24, 5, 0)) || l.OpenAt(local(24, 23, 0)) {
		t.Error("opening hours")
	}
}
