package queue

import (
	"errors"
	"fmt"
)

var (
	// ErrFull refuses an Append that would take the queue's files past
	// Options.MaxBytes: the uplink has been down too long, or nothing acks.
	ErrFull = errors.New("queue: full")
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("queue: closed")
	// ErrTooLarge refuses a payload over MaxPayload bytes.
	ErrTooLarge = fmt.Errorf("queue: payload over %d bytes", MaxPayload)
	// ErrBadID refuses an empty id or one over MaxID bytes.
	ErrBadID = fmt.Errorf("queue: id must be 1 to %d bytes", MaxID)
	// ErrLocked means another Queue, in this process or another, has the
	// directory open.
	ErrLocked = errors.New("queue: directory in use by another process")

	// ErrTorn marks the end of a file cut short by a crash or power loss.
	ErrTorn = errors.New("torn write")
	// ErrCorrupt marks bytes that fail their checksum with intact data after
	// them, or an ack log that is missing.
	ErrCorrupt = errors.New("corrupt data")
)

// DamageError describes bytes that did not read back as they were written.
// The queue reports them and carries on; see Queue.Damage.
type DamageError struct {
	File   string // path of the segment file or ack log
	Offset int64  // where the damaged bytes start
	Length int64  // how many bytes are damaged
	Err    error  // ErrTorn or ErrCorrupt
	Effect string // what the queue did about it
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("queue: %s: %v at offset %d (%d bytes): %s", e.File, e.Err, e.Offset, e.Length, e.Effect)
}

func (e *DamageError) Unwrap() error { return e.Err }
