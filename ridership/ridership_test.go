package ridership

import "testing"

func TestPseudonymizer(t *testing.T) {
	if _, err := NewPseudonymizer([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
	a, _ := NewPseudonymizer([]byte("0123456789abcdef0123456789abcdef"))
	b, _ := NewPseudonymizer([]byte("0123456789abcdef0123456789abcdeX"))
	k := a.Key("vn_abc")
	if k == "" || k == "vn_abc" || len(k) != 32 || k != a.Key("vn_abc") {
		t.Errorf("key %q", k)
	}
	if b.Key("vn_abc") == k {
		t.Error("different secrets give the same key")
	}
	if a.Key("") != "" {
		t.Error("empty subject gets a key")
	}
}
