package explain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/admission"
	"github.com/vnpass/vnpass/explain"
	"github.com/vnpass/vnpass/money"
)

// journey is a closed adult journey Cát Linh -> Yên Nghĩa at 07:30-08:05 in
// Hanoi for 15.000, changed by each case.
func journey(change func(*admission.Journey)) admission.Journey {
	j := admission.Journey{
		ID: 41, Subject: "vn_someone", NetworkID: "hn2a", OperatorID: "hanoi-metro",
		EntryEvent: "0193d5c0-0000-7000-8000-000000000001", EntrySite: "hn2a-cat-linh", EntryAt: morning,
		ExitEvent: "0193d5c0-0000-7000-8000-000000000002", ExitSite: "hn2a-yen-nghia", ExitAt: morning.Add(35 * time.Minute),
		Fare: money.Dong(15000), FullFare: money.Dong(15000), FareRule: "fare_leg_rules.txt:12",
		Category: "adult", Status: admission.JourneyClosed,
	}
	if change != nil {
		change(&j)
	}
	return j
}

func TestJourneyExplainsEveryRule(t *testing.T) {
	s := shipped(t)
	charge := []explain.Posting{explain.NewPosting(9, explain.KindFare, "fare:0193d5c0-0000-7000-8000-000000000002", money.Dong(15000), morning.Add(35*time.Minute))}
	for _, c := range []struct {
		name     string
		j        admission.Journey
		postings []explain.Posting
		vi, en   []string
		check    func(t *testing.T, r explain.Receipt)
		noExit   bool
		noEntry  bool
		charged  int64
		capLimit int64
	}{
		{
			name: "a fare_leg_rules row", j: journey(nil), postings: charge, charged: 15000,
			vi: []string{
				"Giá vé Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
				"Hạng hành khách: adult (fare_products.txt:51)",
				"Đã thu 15.000 ₫ (giao dịch sổ cái #9)",
			},
			en: []string{
				"Fare Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
				"Rider category: adult (fare_products.txt:51)",
				"Charged 15.000 ₫ (ledger transaction #9)",
			},
		},
		{
			name: "a senior rides free",
			j: journey(func(j *admission.Journey) {
				j.Category, j.Fare, j.FullFare = "senior_60_plus", money.Dong(0), money.Dong(0)
			}),
			vi: []string{
				"Giá vé Cát Linh → Yên Nghĩa: 0 ₫ (fare_leg_rules.txt:12)",
				"Miễn phí cho hạng hành khách senior_60_plus (fare_products.txt:53)",
				"Không thu tiền",
			},
			en: []string{
				"Fare Cát Linh → Yên Nghĩa: 0 ₫ (fare_leg_rules.txt:12)",
				"Free for rider category senior_60_plus (fare_products.txt:53)",
				"Nothing charged",
			},
		},
		{
			name: "same station",
			j: journey(func(j *admission.Journey) {
				j.ExitSite, j.Fare, j.FullFare, j.FareRule = "hn2a-cat-linh", money.Dong(8000), money.Dong(8000), "same-station"
			}),
			charged: 8000,
			vi: []string{
				"Vào và ra cùng ga Cát Linh: giá tối thiểu 8.000 ₫ (same-station)",
				"Hạng hành khách: adult (fare_products.txt:2)",
				"Đã thu 8.000 ₫",
			},
			en: []string{
				"Entered and left at the same station, Cát Linh: minimum fare 8.000 ₫ (same-station)",
				"Rider category: adult (fare_products.txt:2)",
				"Charged 8.000 ₫",
			},
		},
		{
			name: "the daily cap", charged: 7000, capLimit: 30000,
			j: journey(func(j *admission.Journey) {
				j.Fare, j.Cap, j.CapRule = money.Dong(7000), "day", "fare_products.txt:58"
			}),
			vi: []string{
				"Giá vé Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
				"Hạng hành khách: adult (fare_products.txt:51)",
				"Đã áp dụng mức trần ngày 30.000 ₫: thu 7.000 ₫ thay vì 15.000 ₫ (fare_products.txt:58)",
				"Đã thu 7.000 ₫",
			},
			en: []string{
				"Fare Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
				"Rider category: adult (fare_products.txt:51)",
				"Daily cap of 30.000 ₫ applied: charged 7.000 ₫ instead of 15.000 ₫ (fare_products.txt:58)",
				"Charged 7.000 ₫",
			},
		},
		{
			name: "the monthly cap of a student, reached", capLimit: 100000,
			j: journey(func(j *admission.Journey) {
				j.Category, j.Fare, j.Cap, j.CapRule = "student", money.Dong(0), "month", "fare_products.txt:62"
			}),
			vi: []string{
				"Giá vé Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
				"Hạng hành khách: student (fare_products.txt:56)",
				"Đã áp dụng mức trần tháng 100.000 ₫: thu 0 ₫ thay vì 15.000 ₫ (fare_products.txt:62)",
				"Không thu tiền",
			},
			en: []string{
				"Fare Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
				"Rider category: student (fare_products.txt:56)",
				"Monthly cap of 100.000 ₫ applied: charged 0 ₫ instead of 15.000 ₫ (fare_products.txt:62)",
				"Nothing charged",
			},
		},
		{
			// The data no longer has the recorded row: the amount is not
			// guessed, the row is still named.
			name: "a cap whose row changed since", charged: 7000,
			j: journey(func(j *admission.Journey) {
				j.Fare, j.Cap, j.CapRule = money.Dong(7000), "day", "fare_products.txt:999"
			}),
			vi: []string{
				"Giá vé Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
				"Hạng hành khách: adult (fare_products.txt:51)",
				"Đã áp dụng mức trần ngày: thu 7.000 ₫ thay vì 15.000 ₫ (fare_products.txt:999)",
				"Đã thu 7.000 ₫",
			},
			en: []string{
				"Fare Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
				"Rider category: adult (fare_products.txt:51)",
				"Daily cap applied: charged 7.000 ₫ instead of 15.000 ₫ (fare_products.txt:999)",
				"Charged 7.000 ₫",
			},
		},
		{
			name: "a transfer at Cát Linh", charged: 6000,
			j: journey(func(j *admission.Journey) {
				j.NetworkID, j.EntrySite, j.ExitSite = "hn3", "hn3-cat-linh", "hn3-nhon"
				j.FareRule, j.FullFare, j.Fare = "fare_leg_rules.txt:233", money.Dong(13000), money.Dong(6000)
				j.TransferRule, j.TransferFrom = "fare_transfer_rules.txt:2", 40
			}),
			check: func(t *testing.T, r explain.Receipt) {
				if r.TransferFrom != 40 || r.TransferRule != "fare_transfer_rules.txt:2" {
					t.Errorf("transfer %d %q", r.TransferFrom, r.TransferRule)
				}
			},
			vi: []string{
				"Giá vé Cát Linh → Nhổn: 13.000 ₫ (fare_leg_rules.txt:233)",
				"Hạng hành khách: adult (fare_products.txt:94)",
				"Chuyển tuyến, nối tiếp hành trình #40 (fare_transfer_rules.txt:2): giảm 7.000 ₫",
				"Đã thu 6.000 ₫",
			},
			en: []string{
				"Fare Cát Linh → Nhổn: 13.000 ₫ (fare_leg_rules.txt:233)",
				"Rider category: adult (fare_products.txt:94)",
				"Change of line continuing journey #40 (fare_transfer_rules.txt:2): 7.000 ₫ off",
				"Charged 6.000 ₫",
			},
		},
		{
			name: "a transfer, then the cap", charged: 1000, capLimit: 24000,
			j: journey(func(j *admission.Journey) {
				j.NetworkID, j.EntrySite, j.ExitSite = "hn3", "hn3-cat-linh", "hn3-nhon"
				j.FareRule, j.FullFare, j.Fare = "fare_leg_rules.txt:233", money.Dong(13000), money.Dong(1000)
				j.TransferRule, j.TransferFrom = "fare_transfer_rules.txt:2", 40
				j.Cap, j.CapRule = "day", "fare_products.txt:106"
			}),
			vi: []string{
				"Giá vé Cát Linh → Nhổn: 13.000 ₫ (fare_leg_rules.txt:233)",
				"Hạng hành khách: adult (fare_products.txt:94)",
				"Chuyển tuyến, nối tiếp hành trình #40 (fare_transfer_rules.txt:2)",
				"Đã áp dụng mức trần ngày 24.000 ₫: thu 1.000 ₫ (fare_products.txt:106)",
				"Đã thu 1.000 ₫",
			},
			en: []string{
				"Fare Cát Linh → Nhổn: 13.000 ₫ (fare_leg_rules.txt:233)",
				"Rider category: adult (fare_products.txt:94)",
				"Change of line continuing journey #40 (fare_transfer_rules.txt:2)",
				"Daily cap of 24.000 ₫ applied: charged 1.000 ₫ (fare_products.txt:106)",
				"Charged 1.000 ₫",
			},
		},
		{
			name: "missing exit", noExit: true, charged: 15000,
			j: journey(func(j *admission.Journey) {
				j.ExitEvent, j.ExitSite, j.ExitAt = "", "", morning.Add(3*time.Hour)
				j.FareRule, j.Status = "missing-exit-max-fare", admission.JourneyIncomplete
			}),
			vi: []string{
				"Thiếu lượt ra: thu giá tối đa 15.000 ₫ (missing-exit-max-fare)",
				"Vào ga Cát Linh lúc 07:30 24/11/2026, không có lượt ra trong thời gian tối đa của một hành trình",
				"Hạng hành khách: adult",
				"Đã thu 15.000 ₫",
			},
			en: []string{
				"No exit tap: maximum fare 15.000 ₫ (missing-exit-max-fare)",
				"Entered Cát Linh at 07:30 on 2026-11-24 and tapped out nowhere within the longest journey time",
				"Rider category: adult",
				"Charged 15.000 ₫",
			},
		},
		{
			name: "missing entry", noEntry: true, charged: 15000,
			j: journey(func(j *admission.Journey) {
				j.EntryEvent, j.EntrySite, j.EntryAt = "", "", time.Time{}
				j.FareRule, j.Status = "missing-entry-max-fare", admission.JourneyIncomplete
			}),
			vi: []string{
				"Thiếu lượt vào: thu giá tối đa 15.000 ₫ (missing-entry-max-fare)",
				"Ra ga Yên Nghĩa lúc 08:05 24/11/2026 mà không có lượt vào trên tuyến này",
				"Hạng hành khách: adult",
				"Đã thu 15.000 ₫",
			},
			en: []string{
				"No entry tap: maximum fare 15.000 ₫ (missing-entry-max-fare)",
				"Tapped out at Yên Nghĩa at 08:05 on 2026-11-24 with no entry tap on this network",
				"Rider category: adult",
				"Charged 15.000 ₫",
			},
		},
		{
			name: "over the longest journey time", charged: 15000,
			j: journey(func(j *admission.Journey) {
				j.ExitAt = morning.Add(3*time.Hour + 31*time.Minute)
				j.FareRule, j.Status = "over-max-journey-time-max-fare", admission.JourneyIncomplete
			}),
			vi: []string{
				"Quá thời gian tối đa của một hành trình: thu giá tối đa 15.000 ₫ (over-max-journey-time-max-fare)",
				"Vào ga Cát Linh lúc 07:30 24/11/2026, ra ga Yên Nghĩa lúc 11:01 24/11/2026 (3 giờ 31 phút trong hệ thống)",
				"Hạng hành khách: adult",
				"Đã thu 15.000 ₫",
			},
			en: []string{
				"Over the longest journey time: maximum fare 15.000 ₫ (over-max-journey-time-max-fare)",
				"Entered Cát Linh at 07:30 on 2026-11-24, left Yên Nghĩa at 11:01 on 2026-11-24 (3 h 31 min inside)",
				"Rider category: adult",
				"Charged 15.000 ₫",
			},
		},
		{
			name: "paid by a pass",
			j: journey(func(j *admission.Journey) {
				j.Fare, j.PassID = money.Dong(0), 12
			}),
			vi: []string{
				"Giá vé Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
				"Hạng hành khách: adult (fare_products.txt:51)",
				"Đi bằng vé kỳ #12: không thu tiền",
			},
			en: []string{
				"Fare Cát Linh → Yên Nghĩa: 15.000 ₫ (fare_leg_rules.txt:12)",
				"Rider category: adult (fare_products.txt:51)",
				"Travelling on pass #12: nothing charged",
			},
		},
		{
			// Swept to the maximum fare at 11:30, the exit forwarded late by
			// an offline gate: priced from its taps, the difference refunded.
			name: "a late exit repriced", charged: 8000,
			j: journey(func(j *admission.Journey) {
				j.ExitSite, j.Fare, j.FullFare, j.FareRule = "hn2a-la-thanh", money.Dong(8000), money.Dong(8000), "fare_leg_rules.txt:2"
			}),
			postings: []explain.Posting{
				explain.NewPosting(9, explain.KindFare, "fare:missing-exit:0193d5c0-0000-7000-8000-000000000001", money.Dong(15000), morning.Add(4*time.Hour)),
				explain.NewPosting(11, explain.KindFareCorrection, "fare-correction:0193d5c0-0000-7000-8000-000000000002", money.Dong(-7000), morning.Add(5*time.Hour)),
			},
			vi: []string{
				"Giá vé Cát Linh → La Thành: 8.000 ₫ (fare_leg_rules.txt:2)",
				"Hạng hành khách: adult (fare_products.txt:2)",
				"Lượt ra đến muộn (ra ga La Thành lúc 08:05 24/11/2026): hành trình đã bị thu giá tối đa vì thiếu lượt ra, nay được tính lại theo lượt vào và ra",
				"Đã thu 15.000 ₫ (giao dịch sổ cái #9)",
				"Hoàn lại 7.000 ₫ (giao dịch sổ cái #11)",
				"Tổng đã thu: 8.000 ₫",
			},
			en: []string{
				"Fare Cát Linh → La Thành: 8.000 ₫ (fare_leg_rules.txt:2)",
				"Rider category: adult (fare_products.txt:2)",
				"Late exit tap (at La Thành at 08:05 on 2026-11-24): the journey charged the maximum fare for a missing exit was repriced from its taps",
				"Charged 15.000 ₫ (ledger transaction #9)",
				"Refunded 7.000 ₫ (ledger transaction #11)",
				"Total charged: 8.000 ₫",
			},
		},
		{
			name: "open", noExit: true,
			j: journey(func(j *admission.Journey) {
				j.ExitEvent, j.ExitSite, j.ExitAt, j.FareRule = "", "", time.Time{}, ""
				j.Fare, j.FullFare, j.Status = money.Dong(0), money.Dong(0), admission.JourneyOpen
			}),
			vi: []string{"Hành trình chưa kết thúc: vào ga Cát Linh lúc 07:30 24/11/2026, chưa thu tiền"},
			en: []string{"Journey still open: entered Cát Linh at 07:30 on 2026-11-24, nothing charged yet"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := explain.Journey(s, c.j, c.postings)
			if strings.Join(r.Explanation.VI, "\n") != strings.Join(c.vi, "\n") {
				t.Errorf("vi:\n got %q\nwant %q", r.Explanation.VI, c.vi)
			}
			if strings.Join(r.Explanation.EN, "\n") != strings.Join(c.en, "\n") {
				t.Errorf("en:\n got %q\nwant %q", r.Explanation.EN, c.en)
			}
			if r.ChargedVND != c.charged || r.CapLimitVND != c.capLimit || r.FareRule != c.j.FareRule || r.Status != string(c.j.Status) {
				t.Errorf("charged %d, cap limit %d, rule %q, status %s", r.ChargedVND, r.CapLimitVND, r.FareRule, r.Status)
			}
			if (r.Exit == nil) != c.noExit || (r.Entry == nil) != c.noEntry {
				t.Errorf("entry %+v, exit %+v", r.Entry, r.Exit)
			}
			if r.Entry != nil && r.Entry.At != "2026-11-24T07:30:00+07:00" {
				t.Errorf("entry at %s, want local time", r.Entry.At)
			}
			if c.check != nil {
				c.check(t, r)
			}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), c.j.Subject) {
				t.Errorf("the receipt shows the rider's subject: %s", b)
			}
		})
	}
}
