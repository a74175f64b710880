package explain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/fare"
)

func shipped(t *testing.T) *fare.Set {
	t.Helper()
	s, err := fare.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// 07:30 in Hanoi.
var morning = time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC)

func TestQuote(t *testing.T) {
	s := shipped(t)
	for _, c := range []struct {
		name, from, to, category string
		amount                   int64
		text, category2, rule    string
		row, vi, en              string
		legs                     int
	}{
		{
			name: "2A end to end", from: "hn2a-cat-linh", to: "hn2a-yen-nghia",
			amount: 15000, text: "15.000 ₫", category2: "adult", rule: "fare_leg_rules.txt:12", row: "fare_products.txt:51", legs: 1,
			vi: "Giá vé Cát Linh → Yên Nghĩa, hạng adult: 15.000 ₫ (fare_leg_rules.txt:12, fare_products.txt:51)",
			en: "Fare Cát Linh → Yên Nghĩa, category adult: 15.000 ₫ (fare_leg_rules.txt:12, fare_products.txt:51)",
		},
		{
			name: "senior rides free", from: "hn2a-cat-linh", to: "hn2a-yen-nghia", category: "senior_60_plus",
			amount: 0, text: "0 ₫", category2: "senior_60_plus", rule: "fare_leg_rules.txt:12", row: "fare_products.txt:53", legs: 1,
			vi: "Giá vé Cát Linh → Yên Nghĩa, hạng senior_60_plus: miễn phí, 0 ₫ (fare_leg_rules.txt:12, fare_products.txt:53)",
			en: "Fare Cát Linh → Yên Nghĩa, category senior_60_plus: free, 0 ₫ (fare_leg_rules.txt:12, fare_products.txt:53)",
		},
		{
			name: "HCMC Line 1 end to end", from: "hcm1-ben-thanh", to: "hcm1-ben-xe-suoi-tien",
			amount: 19000, text: "19.000 ₫", category2: "adult", rule: "fare_leg_rules.txt:14", row: "fare_products.txt:80", legs: 1,
			vi: "Giá vé Bến Thành → Bến xe Suối Tiên, hạng adult: 19.000 ₫ (fare_leg_rules.txt:14, fare_products.txt:80)",
			en: "Fare Bến Thành → Bến xe Suối Tiên, category adult: 19.000 ₫ (fare_leg_rules.txt:14, fare_products.txt:80)",
		},
		{
			name: "same station", from: "hn2a-lang", to: "hn2a-lang", category: "student",
			amount: 8000, text: "8.000 ₫", category2: "student", rule: "same-station", row: "fare_products.txt:7", legs: 1,
			vi: "Vào và ra cùng ga Láng, hạng student: giá tối thiểu 8.000 ₫ (same-station, fare_products.txt:7)",
			en: "Entering and leaving at the same station, Láng, category student: minimum fare 8.000 ₫ (same-station, fare_products.txt:7)",
		},
		{
			// 15.000 to Cát Linh on 2A, 13.000 from Cát Linh on Line 3,
			// 7.000 off for changing at Cát Linh.
			name: "2A to Line 3 through Cát Linh", from: "hn2a-yen-nghia", to: "hn3-nhon",
			amount: 21000, text: "21.000 ₫", category2: "adult", rule: "fare_transfer_rules.txt:2", row: "fare_products.txt:110", legs: 2,
			vi: "Giá vé Yên Nghĩa → Nhổn, hạng adult, chuyển tuyến tại Cát Linh: 15.000 ₫ + 13.000 ₫ − 7.000 ₫ = 21.000 ₫ (fare_leg_rules.txt:123, fare_leg_rules.txt:233, fare_transfer_rules.txt:2)",
			en: "Fare Yên Nghĩa → Nhổn, category adult, changing lines at Cát Linh: 15.000 ₫ + 13.000 ₫ − 7.000 ₫ = 21.000 ₫ (fare_leg_rules.txt:123, fare_leg_rules.txt:233, fare_transfer_rules.txt:2)",
		},
		{
			name: "Line 3 to 2A, a child", from: "hn3-nhon", to: "hn2a-lang", category: "child_under_6",
			amount: 0, text: "0 ₫", category2: "child_under_6", rule: "fare_transfer_rules.txt:3", row: "fare_products.txt:110", legs: 2,
			vi: "Giá vé Nhổn → Láng, hạng child_under_6, chuyển tuyến tại Cát Linh: 0 ₫ + 0 ₫ = 0 ₫ (fare_leg_rules.txt:142, fare_leg_rules.txt:4, fare_transfer_rules.txt:3)",
			en: "Fare Nhổn → Láng, category child_under_6, changing lines at Cát Linh: 0 ₫ + 0 ₫ = 0 ₫ (fare_leg_rules.txt:142, fare_leg_rules.txt:4, fare_transfer_rules.txt:3)",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := explain.Quote(s, c.from, c.to, c.category, morning)
			if err != nil {
				t.Fatal(err)
			}
			if p.AmountVND != c.amount || p.AmountText != c.text || p.Category != c.category2 || p.Rule != c.rule || p.ProductRow != c.row || len(p.Legs) != c.legs {
				t.Errorf("got %d %q %s %s %s, %d legs; want %d %q %s %s %s, %d legs",
					p.AmountVND, p.AmountText, p.Category, p.Rule, p.ProductRow, len(p.Legs), c.amount, c.text, c.category2, c.rule, c.row, c.legs)
			}
			if p.Explanation.VI != c.vi {
				t.Errorf("vi:\n got %s\nwant %s", p.Explanation.VI, c.vi)
			}
			if p.Explanation.EN != c.en {
				t.Errorf("en:\n got %s\nwant %s", p.Explanation.EN, c.en)
			}
			if p.At != "2026-11-24T07:30:00+07:00" {
				t.Errorf("at %s, want local time", p.At)
			}
			var sum int64
			for _, l := range p.Legs {
				sum += l.AmountVND
			}
			if sum+p.TransferVND != p.AmountVND {
				t.Errorf("legs %d + transfer %d != %d", sum, p.TransferVND, p.AmountVND)
			}
		})
	}
}

func TestQuoteErrorsNameTheField(t *testing.T) {
	s := shipped(t)
	for _, c := range []struct {
		from, to, category, field string
		err                       error
	}{
		{"nowhere", "hn2a-lang", "", "from", fare.ErrUnknownStop},
		{"hn2a-lang", "nowhere", "", "to", fare.ErrUnknownStop},
		{"hn2a-lang", "hn2a-ha-dong", "pensioner", "category", fare.ErrUnknownCategory},
		// Line 3 sells no worker concession: the gate prices such a rider as an adult.
		{"hn3-nhon", "hn3-cat-linh", "worker_industrial_zone", "category", fare.ErrNoFareRule},
		{"hn2a-yen-nghia", "hn3-nhon", "worker_industrial_zone", "category", fare.ErrNoFareRule},
		// HCMC prices no worker category at all.
		{"hcm1-ben-thanh", "hcm1-thu-duc", "worker_industrial_zone", "category", fare.ErrUnknownCategory},
		// Two cities: no fare, no transfer.
		{"hn2a-cat-linh", "hcm1-ben-thanh", "", "to", fare.ErrNoFareRule},
	} {
		_, err := explain.Quote(s, c.from, c.to, c.category, morning)
		var qe *explain.QueryError
		if !errors.As(err, &qe) || qe.Field != c.field || !errors.Is(err, c.err) {
			t.Errorf("%s -> %s (%q): %v, want a %s error wrapping %v", c.from, c.to, c.category, err, c.field, c.err)
		}
	}
}
