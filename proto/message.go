package proto

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Size limits. A payload over its limit is rejected before it is parsed.
const (
	MaxTapSize       = 8 << 10
	MaxDecisionSize  = 4 << 10
	MaxStatusSize    = 2 << 10
	MaxConfigSize    = 1 << 20 // room for a deny list of some 20,000 riders
	MaxAssertionSize = 4 << 10
	MaxPlateSize     = 16
)

// ErrMalformed wraps every decode failure: the payload is not a valid message
// of this version. Callers count it and drop the message.
var ErrMalformed = errors.New("proto: malformed message")

// Kind says what a device is, and so what a tap at it means.
type Kind string

const (
	KindMetroEntry   Kind = "metro_entry"
	KindMetroExit    Kind = "metro_exit"
	KindRailGate     Kind = "rail_gate"
	KindParkingEntry Kind = "parking_entry"
	KindParkingExit  Kind = "parking_exit"
)

// Valid reports whether k is a kind of version 1.
func (k Kind) Valid() bool {
	switch k {
	case KindMetroEntry, KindMetroExit, KindRailGate, KindParkingEntry, KindParkingExit:
		return true
	}
	return false
}

// Time is a wall-clock instant on the wire: RFC 3339 in UTC with exactly
// three fractional digits ("2026-11-24T07:30:00.120Z"), so that one instant
// has one encoding. Decoding accepts any RFC 3339 time and keeps milliseconds.
type Time struct{ time.Time }

const wireTime = "2006-01-02T15:04:05.000Z"

// At truncates t to the millisecond the wire can carry.
func At(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return nil, errors.New("proto: zero time")
	}
	b := make([]byte, 0, len(wireTime)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, wireTime)
	return append(b, '"'), nil
}

func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errors.New("time must be an RFC 3339 string")
	}
	v, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return fmt.Errorf("time: %v", err)
	}
	if v.Year() < 2000 || v.Year() > 2999 {
		return fmt.Errorf("time %q out of range", b)
	}
	t.Time = v.UTC().Truncate(time.Millisecond)
	return nil
}

// Tap is one face capture at a device: the rider's VNeID assertion and what
// the device saw. Published QoS 1 on Topics.Taps; the event id is made once
// by the device and kept across every retry, so redeliveries are recognised.
type Tap struct {
	V          int    `json:"v"`
	EventID    string `json:"event_id"`
	Device     string `json:"device"`
	Site       string `json:"site"`
	Kind       Kind   `json:"kind"`
	Assertion  string `json:"assertion"`
	CapturedAt Time   `json:"captured_at"`
	Plate      string `json:"plate,omitempty"` // parking: plate as read, upper case
	// Offline is set when the device decided the tap itself because the
	// cloud did not answer in time: what it decided and why. The cloud then
	// settles the tap as it arrives (minutes or hours later) instead of
	// refusing it as too old, and records that the decision was offline.
	Offline *OfflineDecision `json:"offline,omitempty"`
}

// OfflineDecision is a device's own decision on a tap, made from what it had
// cached (JWKS keys, deny list, fare tables, its record of recent entries).
type OfflineDecision struct {
	Open   bool   `json:"open"`
	Reason Reason `json:"reason"`
	// Rule names the check that decided, e.g. "verified", "deny_list",
	// "pass_back", "offline_limit", "deny_list_stale": explainable later.
	Rule            string `json:"rule"`
	DenyListVersion int64  `json:"deny_list_version"`
	DecidedAt       Time   `json:"decided_at"`
	// TicketsVersion is the version of the ticket list a rail gate decided
	// with, and TicketID the ticket (GateTicket.ID) it opened on; absent
	// for other kinds, and for a rail gate that had no list.
	TicketsVersion int64 `json:"tickets_version,omitempty"`
	TicketID       int64 `json:"ticket_id,omitempty"`
}

// Display is the text a gate shows, in Vietnamese and English.
type Display struct {
	VI string `json:"vi"`
	EN string `json:"en"`
}

// Decision is the cloud's answer to one tap, published QoS 1 on
// Topics.Decisions of the device that sent it.
type Decision struct {
	V          int     `json:"v"`
	EventID    string  `json:"event_id"`
	Open       bool    `json:"open"`
	Reason     Reason  `json:"reason"`
	Display    Display `json:"display"`
	FareVND    *int64  `json:"fare_vnd,omitempty"`    // whole dong charged by this tap
	BalanceVND *int64  `json:"balance_vnd,omitempty"` // whole dong after this tap; may be negative
	DecidedAt  Time    `json:"decided_at"`
}

// State of a device as published on its status topic.
type State string

const (
	StateOnline  State = "online"
	StateOffline State = "offline" // also the device's last will
)

// Status is a device's retained status; the broker publishes the offline
// form as the device's last will when its connection drops.
type Status struct {
	V          int    `json:"v"`
	Device     string `json:"device"`
	Site       string `json:"site"`
	Kind       Kind   `json:"kind"`
	State      State  `json:"state"`
	Software   string `json:"software,omitempty"`
	QueueDepth int    `json:"queue_depth"`
	At         Time   `json:"at"`
	// ConfigVersion and DenyListVersion acknowledge the newest config and
	// deny list the device has applied (0: none yet). A device publishes
	// its status again as soon as it applies a push.
	ConfigVersion   int64 `json:"config_version,omitempty"`
	DenyListVersion int64 `json:"deny_list_version,omitempty"`
	// ClockOffsetMS is the cloud's clock minus the device's, in
	// milliseconds, as the device measured it from its recent decisions;
	// absent until it has measured it.
	ClockOffsetMS *int64 `json:"clock_offset_ms,omitempty"`
	// OfflineOpened and OfflineRefused count the taps the device decided
	// by itself since it started (proto.Tap.Offline).
	OfflineOpened  int64 `json:"offline_opened,omitempty"`
	OfflineRefused int64 `json:"offline_refused,omitempty"`
	// TicketsVersion acknowledges the newest ticket list a rail gate has
	// applied (absent: none, or not a rail gate).
	TicketsVersion int64 `json:"tickets_version,omitempty"`
	// HeartbeatS is the interval at which the device republishes its
	// status while connected, in seconds; 0 for a status sent only on
	// changes (an older device).
	HeartbeatS int `json:"heartbeat_s,omitempty"`
}

// Config is pushed retained to a device. Version increases with every push;
// a device applies a config only if its version is newer than the one it has.
type Config struct {
	V                 int    `json:"v"`
	Version           int64  `json:"version"`
	Device            string `json:"device"`
	Site              string `json:"site"`
	Kind              Kind   `json:"kind"`
	DecisionTimeoutMS int    `json:"decision_timeout_ms"`
	IssuedAt          Time   `json:"issued_at"`
	// Offline is the risk policy for the taps the device decides by itself
	// when the cloud does not answer. Absent: the device keeps the policy
	// it has (its built-in one until a push carries one).
	Offline *OfflinePolicy `json:"offline,omitempty"`
	// DenyList lists the riders the device refuses at entry when it
	// decides offline. Absent: the device keeps the list it has. A list is
	// applied only if its version is newer than the device's.
	DenyList *DenyList `json:"deny_list,omitempty"`
	// HeartbeatS is how often the device republishes its status, in
	// seconds (5-3600); 0: the device's default.
	HeartbeatS int `json:"heartbeat_s,omitempty"`
	// DrainPerS is the most queued taps per second the device sends after
	// a reconnect, so that a station's gates coming back together do not
	// flood the service; 0: the device's default.
	DrainPerS int `json:"drain_per_s,omitempty"`
	// Tickets lists the train tickets a rail gate (kind rail_gate only)
	// admits when it decides offline. Absent: the device keeps the list it
	// has. A list is applied only if its version is newer than the device's.
	Tickets *TicketList `json:"tickets,omitempty"`
}

// OfflinePolicy bounds what a device may let through on its own. Every
// offline decision names the rule that made it (OfflineDecision.Rule).
type OfflinePolicy struct {
	// MaxEntriesPerDay is how many entries one rider may make through this
	// device on offline decisions in a local day (Asia/Ho_Chi_Minh); 0
	// refuses every entry offline. Exits are never refused for it.
	MaxEntriesPerDay int `json:"max_entries_per_day"`
	// DenyListMaxAgeH refuses entries offline once the device's deny list
	// is older than this many hours (from its issued_at), or when it has
	// none; 0: no limit.
	DenyListMaxAgeH int `json:"deny_list_max_age_h"`
	// PassBackS is how long after an entry through this device the same
	// rider is refused offline as a pass-back, in seconds; 0: not checked.
	PassBackS int `json:"pass_back_s"`
}

// DenyList is the riders refused at entry by a device deciding offline:
// VNeID subjects whose accounts are suspended, closed or in debt.
type DenyList struct {
	Version  int64    `json:"version"`
	IssuedAt Time     `json:"issued_at"`
	Subjects []string `json:"subjects"`
}

// TicketList is the train tickets a rail gate admits when it decides
// offline: every ticket bound to a rider, neither used nor cancelled, leaving
// from the gate's station with a departure in [From, Until]. A gate refuses
// offline (offline_unavailable) at an instant whose boarding windows the
// list does not cover: once Until is less than AdmitBeforeS ahead.
type TicketList struct {
	Version  int64 `json:"version"`
	IssuedAt Time  `json:"issued_at"`
	// Station is the station code printed on tickets, e.g. "HNO".
	Station string `json:"station"`
	From    Time   `json:"from"`
	Until   Time   `json:"until"`
	// A ticket opens the gate from AdmitBeforeS seconds before its
	// departure until AdmitAfterS seconds after it (the station's window).
	AdmitBeforeS int          `json:"admit_before_s"`
	AdmitAfterS  int          `json:"admit_after_s"`
	Tickets      []GateTicket `json:"tickets"`
}

// GateTicket is one ticket as a rail gate needs it: whose, which, when, and
// what to show on opening.
type GateTicket struct {
	ID        int64  `json:"id"` // the platform's ticket id
	Subject   string `json:"subject"`
	Train     string `json:"train"`
	Departure Time   `json:"departure"`
	Coach     string `json:"coach"`
	Seat      string `json:"seat"`
}

// Encode returns the JSON of a message, with "v" set to Version.
// It fails on a message its own decoder would refuse, so a bug on one side
// never reaches the other.
func (m Tap) Encode() ([]byte, error)      { m.V = Version; return encode(&m, MaxTapSize) }
func (m Decision) Encode() ([]byte, error) { m.V = Version; return encode(&m, MaxDecisionSize) }
func (m Status) Encode() ([]byte, error)   { m.V = Version; return encode(&m, MaxStatusSize) }
func (m Config) Encode() ([]byte, error)   { m.V = Version; return encode(&m, MaxConfigSize) }

type validator interface {
	validate() error
	version() int
}

func (m *Tap) version() int      { return m.V }
func (m *Decision) version() int { return m.V }
func (m *Status) version() int   { return m.V }
func (m *Config) version() int   { return m.V }

func encode(m validator, limit int) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("proto: encode: %w", err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("proto: encode: %w", err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("proto: encode: %d bytes over the limit of %d", len(b), limit)
	}
	return b, nil
}

// DecodeTap parses and validates a tap. Every error wraps ErrMalformed.
func DecodeTap(b []byte) (Tap, error) {
	var m Tap
	return m, decode(b, MaxTapSize, &m)
}

// DecodeDecision parses and validates a decision.
func DecodeDecision(b []byte) (Decision, error) {
	var m Decision
	return m, decode(b, MaxDecisionSize, &m)
}

// DecodeStatus parses and validates a device status.
func DecodeStatus(b []byte) (Status, error) {
	var m Status
	return m, decode(b, MaxStatusSize, &m)
}

// DecodeConfig parses and validates a device config.
func DecodeConfig(b []byte) (Config, error) {
	var m Config
	return m, decode(b, MaxConfigSize, &m)
}

func decode(b []byte, limit int, m validator) error {
	if len(b) > limit {
		return fmt.Errorf("%w: %d bytes over the limit of %d", ErrMalformed, len(b), limit)
	}
	// Unknown fields are ignored: minor additions within v1 must not break
	// older readers. Missing or invalid required fields are caught below.
	err := json.Unmarshal(b, m)
	if err != nil || m.version() != Version {
		// Only now read the version alone (one parse on the common path),
		// so that a v2 message is reported as such instead of as whatever
		// field v1 would miss.
		var head struct {
			V *int `json:"v"`
		}
		if herr := json.Unmarshal(b, &head); herr != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, herr)
		}
		if head.V == nil {
			return fmt.Errorf("%w: missing \"v\"", ErrMalformed)
		}
		if *head.V != Version {
			return fmt.Errorf("%w: version %d, this side speaks %d", ErrMalformed, *head.V, Version)
		}
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := m.validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
