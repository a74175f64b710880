package proto

import "testing"

// FuzzDecodeStatus and FuzzDecodeConfig: the other messages a device or the
// fleet service reads decode without panicking, and what decodes re-encodes
// to bytes that decode again.
func FuzzDecodeStatus(f *testing.F) {
	for _, c := range statusCases {
		f.Add([]byte(c.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeStatus(b)
		if err != nil {
			return
		}
		again, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded status does not encode: %v (%+v)", err, m)
		}
		if _, err := DecodeStatus(again); err != nil {
			t.Fatalf("re-encoded status does not decode: %v\n%s", err, again)
		}
	})
}

func FuzzDecodeConfig(f *testing.F) {
	for _, c := range configCases {
		f.Add([]byte(c.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeConfig(b)
		if err != nil {
			return
		}
		again, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded config does not encode: %v (%+v)", err, m)
		}
		if _, err := DecodeConfig(again); err != nil {
			t.Fatalf("re-encoded config does not decode: %v\n%s", err, again)
		}
	})
}
