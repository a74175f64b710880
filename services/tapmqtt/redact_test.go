package tapmqtt

import (
	"errors"
	"strings"
	"testing"

	"github.com/vnpass/vnpass/proto"
)

// Decoding errors of payloads carrying personal data where ids belong are
// logged without the data.
func TestRedactDropsQuotedPayloadBytes(t *testing.T) {
	for _, payload := range []string{
		`{"v":1,"event_id":"0190f5a2-7c1e-7000-8000-000000000001","device":"Lê Thị Hoa","site":"s","kind":"metro_entry","assertion":"a.b.c","captured_at":"2026-11-24T07:00:00Z"}`,
		`{"v":1,"event_id":"0190f5a2-7c1e-7000-8000-000000000001","device":"d","site":"s","kind":"001090033333","assertion":"a.b.c","captured_at":"2026-11-24T07:00:00Z"}`,
		`{"v":1,"event_id":"0190f5a2-7c1e-7000-8000-000000000001","device":"d","site":"s","kind":"metro_entry","assertion":"a.b.c","captured_at":"001090033333"}`,
		`{"v":1,"001090033333":1}`,
		`{"v":1,"event_id":"Lê \"Thị\" Hoa 001090033333"}`,
	} {
		_, err := proto.DecodeTap([]byte(payload))
		if err == nil {
			t.Fatalf("%s decoded", payload)
		}
		got := redact(err)
		for _, secret := range []string{"Lê", "Hoa", "001090033333", "90033333"} {
			if strings.Contains(got, secret) {
				t.Errorf("redact(%q) = %q keeps %q", err, got, secret)
			}
		}
		if !strings.HasPrefix(got, "proto: malformed message") {
			t.Errorf("redact(%q) = %q lost what the error was", err, got)
		}
	}
	if got := redact(errors.New(`device "x": only a-z allowed`)); got != `device "…": only a-z allowed` {
		t.Errorf("redact = %q", got)
	}
	if redact(nil) != "" {
		t.Error("redact(nil) not empty")
	}
}
