package exportch

import "testing"

// The TIDES columns and enumerations we emit, as published in
// TIDES-transit/TIDES spec/fare_transactions.schema.json and
// spec/station_activities.schema.json (read 2026-11-24). Columns of ours
// that TIDES does not define: suppressed, reason.
func TestTIDESVocabulary(t *testing.T) {
	fareActions := map[string]bool{"Unknown action type": true, "Purchase": true, "Enter": true, "Exit": true,
		"Transfer entrance": true, "Transfer exit": true, "Add": true, "Activate": true, "Adjust": true, "Other": true}
	for _, c := range []struct {
		kind string
		open bool
	}{{"metro_entry", true}, {"metro_exit", true}, {"rail_gate", true}, {"metro_entry", false}, {"metro_exit", false}} {
		if a := fareAction(c.kind, c.open); !fareActions[a] {
			t.Errorf("fare_action %q for %s open=%v is not in the TIDES enumeration", a, c.kind, c.open)
		}
	}
	media := map[string]bool{"Cash or coins": true, "Smart card or ticket": true, "Magnetic-stripe card or ticket": true,
		"Bank card": true, "Mobile NFC": true, "Optical scan": true, "Other type": true,
		"Button pressed by driver or operator to indicate a boarding or alighting passenger.": true}
	if !media[fareMedia] {
		t.Errorf("fare_media_id %q is not in the TIDES enumeration", fareMedia)
	}
}
