package queue

import (
	"bytes"
	"testing"
)

// The on-disk format, byte for byte, as the package doc describes it. The
// checksums were computed independently (bitwise CRC-32C, polynomial
// 0x82F63B78).
func TestRecordFormat(t *testing.T) {
	want := []byte{
		'V', 'Q', 'R', 0x01, // magic
		0x41, 0x80, 0xdd, 0x78, // CRC-32C of the rest
		1, 0, 0, 0, 0, 0, 0, 0, // seq 1
		2, 0, 0, 0, // payload length 2
		1,        // id length 1
		'a',      // id
		'h', 'i', // payload
	}
	got := appendRecord(nil, 1, "a", []byte("hi"))
	if !bytes.Equal(got, want) {
		t.Fatalf("record encodes as\n% x\nwant\n% x", got, want)
	}
	r, ok := parseRecord(append(want, 0xee)) // trailing bytes are the next record's
	if !ok || r.seq != 1 || string(r.id) != "a" || string(r.payload) != "hi" || r.size != len(want) {
		t.Fatalf("parseRecord = %+v, %v", r, ok)
	}
	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"short", func(b []byte) []byte { return b[:len(b)-1] }},
		{"header only", func(b []byte) []byte { return b[:headerSize] }},
		{"bad magic", func(b []byte) []byte { b[3] = 2; return b }},
		{"bad checksum", func(b []byte) []byte { b[4]++; return b }},
		{"payload changed", func(b []byte) []byte { b[len(b)-1] = 'o'; return b }},
		{"empty id", func(b []byte) []byte { b[20] = 0; return b }},
		{"payload too long", func(b []byte) []byte { b[16], b[17] = 0x01, 0x40; return b }},
	} {
		if _, ok := parseRecord(tc.edit(bytes.Clone(want))); ok {
			t.Errorf("%s: parsed", tc.name)
		}
	}
	big := appendRecord(nil, seqLimit, "a", nil)
	if _, ok := parseRecord(big); ok {
		t.Error("seq at seqLimit parsed")
	}
}

func TestAckEntryFormat(t *testing.T) {
	ack := []byte{7, 0, 0, 0, 0, 0, 0, 0, 0x8e, 0xb7, 0x71, 0x76}
	mark := []byte{7, 0, 0, 0, 0, 0, 0, 0x80, 0xf6, 0x8c, 0x87, 0xf4}
	if got := appendAck(nil, 7); !bytes.Equal(got, ack) {
		t.Fatalf("ack of seq 7 encodes as % x", got)
	}
	if got := appendAck(nil, 7|watermarkFlag); !bytes.Equal(got, mark) {
		t.Fatalf("watermark 7 encodes as % x", got)
	}
	l := parseAckLog(append(append(append([]byte{}, mark...), ack[:8]...), 0, 0, 0, 0))
	if l.watermark != 7 || len(l.acked) != 0 || len(l.corrupt) != 1 || l.entries != 1 {
		t.Fatalf("parseAckLog = %+v", l)
	}
	l = parseAckLog(append(append([]byte{}, ack...), 1, 2, 3))
	if _, ok := l.acked[7]; !ok || l.valid != ackEntrySize || !l.isAcked(7) || l.isAcked(6) {
		t.Fatalf("parseAckLog = %+v", l)
	}
}

func TestNextRecordSkipsFalseStarts(t *testing.T) {
	rec := appendRecord(nil, 9, "id", []byte("payload"))
	b := append([]byte("VQR\x01VQR\x01junkVQR"), rec...)
	if got := nextRecord(b, 0); got != len(b)-len(rec) {
		t.Fatalf("nextRecord = %d, want %d", got, len(b)-len(rec))
	}
	if got := nextRecord(b[:len(b)-1], 0); got != -1 {
		t.Fatalf("nextRecord on a cut record = %d", got)
	}
}
