package proto

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// NewEventID returns a version 7 UUID (RFC 9562): 48 bits of Unix
// milliseconds then 74 random bits, so ids sort roughly by time, which keeps
// database indexes on them compact, and are unique without coordination.
func NewEventID(now time.Time) string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[0:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(u[6:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}

// CheckEventID accepts a UUID in canonical lower-case form.
func CheckEventID(s string) error {
	if len(s) != 36 {
		return fmt.Errorf("event_id: want a 36-character UUID, got %d characters", len(s))
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return fmt.Errorf("event_id %q: not a canonical UUID", s)
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return fmt.Errorf("event_id %q: not a lower-case UUID", s)
			}
		}
	}
	return nil
}
