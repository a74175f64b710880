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
	MaxConfigSize    = 64 << 10
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
