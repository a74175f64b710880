package proto

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// checkID accepts the ids used for sites and devices: 1-64 characters of
// lower-case ASCII letters, digits, '-', '_' and '.', starting with a letter
// or digit. They appear in topics, so MQTT wildcards and '/' are excluded.
func checkID(field, s string) error {
	if len(s) == 0 || len(s) > 64 {
		return fmt.Errorf("%s: want 1-64 characters, got %d", field, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return fmt.Errorf("%s %q: only a-z, 0-9, '-', '_', '.' allowed", field, s)
		}
	}
	return nil
}

// checkDevice checks the fields that name a device in every message.
func checkDevice(device, site string, kind Kind) error {
	if err := checkID("device", device); err != nil {
		return err
	}
	if err := checkID("site", site); err != nil {
		return err
	}
	if !kind.Valid() {
		return fmt.Errorf("kind %q unknown", kind)
	}
	return nil
}

// CheckID reports whether s is a valid site or device id.
func CheckID(s string) error { return checkID("id", s) }

func checkText(field, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s: %d bytes over the limit of %d", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not UTF-8", field)
	}
	return nil
}

func (m *Tap) validate() error {
	if err := CheckEventID(m.EventID); err != nil {
		return err
	}
	if err := checkDevice(m.Device, m.Site, m.Kind); err != nil {
		return err
	}
	if m.Assertion == "" {
		return errors.New("assertion: missing")
	}
	if len(m.Assertion) > MaxAssertionSize {
		return fmt.Errorf("assertion: %d bytes over the limit of %d", len(m.Assertion), MaxAssertionSize)
	}
	// A compact JWS is three base64url segments; anything else cannot verify,
	// and refusing it here keeps arbitrary bytes out of logs and stores.
	if strings.Count(m.Assertion, ".") != 2 || !isJWSChars(m.Assertion) {
		return errors.New("assertion: not a compact JWS")
	}
	if m.CapturedAt.IsZero() {
		return errors.New("captured_at: missing")
	}
	if m.Plate != "" {
		if len(m.Plate) > MaxPlateSize {
			return fmt.Errorf("plate: over %d bytes", MaxPlateSize)
		}
		for i := 0; i < len(m.Plate); i++ {
			c := m.Plate[i]
			if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				return fmt.Errorf("plate %q: only A-Z, 0-9, '-', '.' allowed", m.Plate)
			}
		}
	}
	if o := m.Offline; o != nil {
		if !o.Reason.Valid() || o.Open != (o.Reason == ReasonOK) {
			return fmt.Errorf("offline: open=%v with reason %q", o.Open, o.Reason)
		}
		if err := checkID("offline.rule", o.Rule); err != nil {
			return err
		}
		if o.DenyListVersion < 0 || o.TicketsVersion < 0 || o.TicketID < 0 {
			return errors.New("offline.deny_list_version, tickets_version, ticket_id: negative")
		}
		if o.DecidedAt.IsZero() {
			return errors.New("offline.decided_at: missing")
		}
	}
	return nil
}

func isJWSChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (m *Decision) validate() error {
	if err := CheckEventID(m.EventID); err != nil {
		return err
	}
	if !m.Reason.Valid() {
		return fmt.Errorf("reason %q unknown", m.Reason)
	}
	if m.Open != (m.Reason == ReasonOK) {
		return fmt.Errorf("open=%v with reason %q", m.Open, m.Reason)
	}
	if m.Display.VI == "" || m.Display.EN == "" {
		return errors.New("display: both vi and en are required")
	}
	if err := checkText("display.vi", m.Display.VI, 256); err != nil {
		return err
	}
	if err := checkText("display.en", m.Display.EN, 256); err != nil {
		return err
	}
	if m.FareVND != nil && *m.FareVND < 0 {
		return fmt.Errorf("fare_vnd: negative (%d)", *m.FareVND)
	}
	if m.DecidedAt.IsZero() {
		return errors.New("decided_at: missing")
	}
	return nil
}

func (m *Status) validate() error {
	if err := checkDevice(m.Device, m.Site, m.Kind); err != nil {
		return err
	}
	if m.State != StateOnline && m.State != StateOffline {
		return fmt.Errorf("state %q unknown", m.State)
	}
	if err := checkText("software", m.Software, 64); err != nil {
		return err
	}
	if m.QueueDepth < 0 {
		return errors.New("queue_depth: negative")
	}
	if m.At.IsZero() {
		return errors.New("at: missing")
	}
	if m.ConfigVersion < 0 || m.DenyListVersion < 0 || m.TicketsVersion < 0 {
		return errors.New("config_version, deny_list_version, tickets_version: negative")
	}
	if m.OfflineOpened < 0 || m.OfflineRefused < 0 {
		return errors.New("offline_opened, offline_refused: negative")
	}
	if m.HeartbeatS < 0 {
		return errors.New("heartbeat_s: negative")
	}
	return nil
}

func (m *Config) validate() error {
	if m.Version <= 0 {
		return errors.New("version: must be positive")
	}
	if err := checkDevice(m.Device, m.Site, m.Kind); err != nil {
		return err
	}
	if m.DecisionTimeoutMS < 100 || m.DecisionTimeoutMS > 30000 {
		return fmt.Errorf("decision_timeout_ms: %d outside 100-30000", m.DecisionTimeoutMS)
	}
	if m.IssuedAt.IsZero() {
		return errors.New("issued_at: missing")
	}
	if o := m.Offline; o != nil {
		if err := o.Validate(); err != nil {
			return err
		}
	}
	if d := m.DenyList; d != nil {
		if d.Version <= 0 {
			return errors.New("deny_list.version: must be positive")
		}
		if d.IssuedAt.IsZero() {
			return errors.New("deny_list.issued_at: missing")
		}
		if len(d.Subjects) > MaxDenyList {
			return fmt.Errorf("deny_list.subjects: %d over the limit of %d", len(d.Subjects), MaxDenyList)
		}
		for i, s := range d.Subjects {
			if !isSubject(s) {
				return fmt.Errorf("deny_list.subjects[%d]: want 1-256 printable ASCII characters without spaces", i)
			}
		}
	}
	if l := m.Tickets; l != nil {
		if m.Kind != KindRailGate {
			return fmt.Errorf("tickets: only for %s devices, not %s", KindRailGate, m.Kind)
		}
		if err := l.validate(); err != nil {
			return err
		}
	}
	if m.HeartbeatS != 0 && (m.HeartbeatS < 5 || m.HeartbeatS > 3600) {
		return fmt.Errorf("heartbeat_s: %d outside 5-3600", m.HeartbeatS)
	}
	if m.DrainPerS < 0 || m.DrainPerS > 100_000 {
		return fmt.Errorf("drain_per_s: %d outside 0-100000", m.DrainPerS)
	}
	return nil
}

// Validate reports what is out of range in an offline policy.
func (o OfflinePolicy) Validate() error {
	switch {
	case o.MaxEntriesPerDay < 0 || o.MaxEntriesPerDay > 1000:
		return fmt.Errorf("offline.max_entries_per_day: %d outside 0-1000", o.MaxEntriesPerDay)
	case o.DenyListMaxAgeH < 0 || o.DenyListMaxAgeH > 24*30:
		return fmt.Errorf("offline.deny_list_max_age_h: %d outside 0-720", o.DenyListMaxAgeH)
	case o.PassBackS < 0 || o.PassBackS > 24*3600:
		return fmt.Errorf("offline.pass_back_s: %d outside 0-86400", o.PassBackS)
	}
	return nil
}

// MaxTickets bounds the tickets in one list: a station's departures over
// the next hours (some 130 bytes each, 650 KB at most, within MaxConfigSize
// beside a deny list of a few thousand riders).
const MaxTickets = 5_000

// MaxTicketSpan bounds the departures one ticket list covers.
const MaxTicketSpan = 48 * time.Hour

func (l *TicketList) validate() error {
	switch {
	case l.Version <= 0:
		return errors.New("tickets.version: must be positive")
	case l.IssuedAt.IsZero() || l.From.IsZero() || l.Until.IsZero():
		return errors.New("tickets: issued_at, from and until are required")
	case !isCode(l.Station):
		return fmt.Errorf("tickets.station %q: want 2-8 upper-case letters or digits", l.Station)
	case l.Until.Before(l.From.Time) || l.Until.Sub(l.From.Time) > MaxTicketSpan:
		return fmt.Errorf("tickets: from %s to until %s: want at most %s, in order", l.From.Format(wireTime), l.Until.Format(wireTime), MaxTicketSpan)
	case l.AdmitBeforeS < 0 || l.AdmitBeforeS > 24*3600:
		return fmt.Errorf("tickets.admit_before_s: %d outside 0-86400", l.AdmitBeforeS)
	case l.AdmitAfterS < 0 || l.AdmitAfterS > 2*3600:
		return fmt.Errorf("tickets.admit_after_s: %d outside 0-7200", l.AdmitAfterS)
	case len(l.Tickets) > MaxTickets:
		return fmt.Errorf("tickets.tickets: %d over the limit of %d", len(l.Tickets), MaxTickets)
	}
	for i, t := range l.Tickets {
		switch {
		case t.ID <= 0:
			return fmt.Errorf("tickets.tickets[%d].id: must be positive", i)
		case !isSubject(t.Subject):
			return fmt.Errorf("tickets.tickets[%d].subject: want 1-256 printable ASCII characters without spaces", i)
		case t.Train == "" || len(t.Train) > 8 || !isCodeChars(t.Train):
			return fmt.Errorf("tickets.tickets[%d].train %q: want 1-8 upper-case letters or digits", i, t.Train)
		case t.Departure.Before(l.From.Time) || t.Departure.After(l.Until.Time):
			return fmt.Errorf("tickets.tickets[%d].departure: outside from-until", i)
		case !isPlace(t.Coach) || !isPlace(t.Seat):
			return fmt.Errorf("tickets.tickets[%d]: coach and seat must be 1-8 letters, digits or -", i)
		}
	}
	return nil
}

// isCode accepts a station code: 2-8 upper-case letters or digits.
func isCode(s string) bool { return len(s) >= 2 && len(s) <= 8 && isCodeChars(s) }

func isCodeChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isPlace accepts a coach or seat: 1-8 letters, digits or '-'.
func isPlace(s string) bool {
	if len(s) == 0 || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// MaxDenyList bounds the riders in one deny list.
const MaxDenyList = 50_000

// isSubject accepts a VNeID subject as assertions carry it (the sub claim).
func isSubject(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
