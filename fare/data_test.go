package fare

import (
	"os"
	"strings"
	"testing"
)

var line2A = []struct{ id, name string }{
	{"hn2a-cat-linh", "Cát Linh"},
	{"hn2a-la-thanh", "La Thành"},
	{"hn2a-thai-ha", "Thái Hà"},
	{"hn2a-lang", "Láng"},
	{"hn2a-thuong-dinh", "Thượng Đình"},
	{"hn2a-vanh-dai-3", "Vành Đai 3"},
	{"hn2a-phung-khoang", "Phùng Khoang"},
	{"hn2a-van-quan", "Văn Quán"},
	{"hn2a-ha-dong", "Hà Đông"},
	{"hn2a-la-khe", "La Khê"},
	{"hn2a-van-khe", "Văn Khê"},
	{"hn2a-yen-nghia", "Yên Nghĩa"},
}

// The shipped data prices every ordered pair of distinct stations from an
// explicit fare_leg_rules.txt row, within the published 8.000-15.000 VND.
func TestHanoiCoversEveryPair(t *testing.T) {
	tab := hanoi(t)
	stops := tab.Stops()
	if len(stops) != len(line2A) {
		t.Fatalf("%d stops, want %d", len(stops), len(line2A))
	}
	rules := make(map[string]bool)
	for _, a := range stops {
		for _, b := range stops {
			if a.ID == b.ID {
				continue
			}
			q, err := tab.Price(a.ID, b.ID)
			if err != nil {
				t.Errorf("Price(%s, %s): %v", a.ID, b.ID, err)
				continue
			}
			if !strings.HasPrefix(q.RuleID, "fare_leg_rules.txt:") {
				t.Errorf("Price(%s, %s) RuleID = %q, want a fare_leg_rules.txt row", a.ID, b.ID, q.RuleID)
			}
			if rules[q.RuleID] {
				t.Errorf("rule %s prices two pairs", q.RuleID)
			}
			rules[q.RuleID] = true
			if q.Amount.LessThan(vnd(8000)) || q.Amount.GreaterThan(vnd(15000)) || !q.Amount.IsInteger() {
				t.Errorf("Price(%s, %s) = %s, outside whole 8.000-15.000", a.ID, b.ID, q.Amount)
			}
		}
	}
	if n := len(line2A) * (len(line2A) - 1); len(rules) != n {
		t.Errorf("%d rules used, want %d", len(rules), n)
	}
}

func TestHanoiStops(t *testing.T) {
	tab := hanoi(t)
	for i, s := range tab.Stops() {
		want := Stop{ID: line2A[i].id, Name: line2A[i].name, NetworkID: "hn2a", AreaID: line2A[i].id, OperatorID: "hanoi-metro"}
		if s != want {
			t.Errorf("stop %d = %+v, want %+v", i, s, want)
		}
		if got, ok := tab.Stop(s.ID); !ok || got != want {
			t.Errorf("Stop(%q) = %+v, %v", s.ID, got, ok)
		}
	}
	if _, ok := tab.Stop("hn2a-xyz"); ok {
		t.Error("Stop(unknown) found")
	}
	n, ok := tab.Network("hn2a")
	if !ok || n.OperatorID != "hanoi-metro" || n.Name != "Tuyến 2A Cát Linh - Hà Đông" {
		t.Errorf("Network(hn2a) = %+v, %v", n, ok)
	}
	if got := tab.DefaultRiderCategory(); got != "adult" {
		t.Errorf("DefaultRiderCategory = %q, want adult", got)
	}
}

// An operator's directory loads through the same path as the embedded data.
func TestLoadFromDirectory(t *testing.T) {
	dir, err := LoadGTFS(os.DirFS("data/hanoi"))
	if err != nil {
		t.Fatal(err)
	}
	emb := hanoi(t)
	for _, a := range emb.Stops() {
		for _, b := range emb.Stops() {
			qe, err1 := emb.Price(a.ID, b.ID)
			qd, err2 := dir.Price(a.ID, b.ID)
			if err1 != nil || err2 != nil || !sameQuote(qe, qd) {
				t.Fatalf("%s->%s: embedded %+v %v, directory %+v %v", a.ID, b.ID, qe, err1, qd, err2)
			}
		}
	}
}

// sameQuote compares by value: decimals hold a pointer, so == compares identity.
func sameQuote(a, b Quote) bool {
	return a.Amount.Equal(b.Amount) && a.ProductID == b.ProductID && a.RuleID == b.RuleID &&
		a.NetworkID == b.NetworkID && a.OperatorID == b.OperatorID
}
