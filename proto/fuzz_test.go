package proto

import (
	"reflect"
	"testing"
	"time"
)

// FuzzDecodeTap: whatever a gate sends, decoding never panics, and whatever
// decodes re-encodes to bytes that decode to the same tap.
func FuzzDecodeTap(f *testing.F) {
	for _, c := range tapCases {
		f.Add([]byte(c.raw))
	}
	for _, c := range badTaps {
		f.Add([]byte(c.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeTap(b)
		if err != nil {
			return
		}
		again, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded tap does not encode: %v (%+v)", err, m)
		}
		back, err := DecodeTap(again)
		if err != nil {
			t.Fatalf("re-encoded tap does not decode: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip changed the tap:\n%+v\n%+v", m, back)
		}
	})
}

func FuzzDecodeDecision(f *testing.F) {
	for _, c := range decisionCases {
		f.Add([]byte(c.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeDecision(b)
		if err != nil {
			return
		}
		again, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded decision does not encode: %v", err)
		}
		if _, err := DecodeDecision(again); err != nil {
			t.Fatalf("re-encoded decision does not decode: %v", err)
		}
	})
}

func FuzzParseTopic(f *testing.F) {
	f.Add("vnpass/v1/taps/hn2a-cat-linh/hn2a-cat-linh-g01")
	f.Add("vnpass/v1/taps/+/#")
	f.Fuzz(func(t *testing.T, s string) {
		var tp Topics
		c, site, dev, err := tp.Parse(s)
		if err != nil {
			return
		}
		if got := tp.Topic(c, site, dev); got != s {
			t.Fatalf("Parse(%q) then Topic = %q", s, got)
		}
	})
}

func TestNewEventID(t *testing.T) {
	now := time.Date(2026, 11, 24, 7, 30, 0, 0, time.UTC)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewEventID(now)
		if err := CheckEventID(id); err != nil {
			t.Fatal(err)
		}
		if id[14] != '7' {
			t.Fatalf("%s: not version 7", id)
		}
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
	if a, b := NewEventID(now), NewEventID(now.Add(time.Second)); a[:13] >= b[:13] {
		t.Errorf("ids do not sort by time: %s then %s", a, b)
	}
}

func BenchmarkDecodeTap(b *testing.B) {
	raw := []byte(tapCases[0].raw)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeTap(raw); err != nil {
			b.Fatal(err)
		}
	}
}
