// Package camera is the simulated gate camera: a source of face captures
// read from scenario lines.
//
// A face ref is an opaque reference string standing for a biometric template
// that the VNeID face-match service knows how to resolve. There are no images
// here and nothing biometric is stored or derived.
//
// One capture per line: a face ref, then optionally the plate the gate's
// plate reader saw (parking). '#' starts a comment; blank lines are skipped.
//
//	# morning rush at Cát Linh
//	face-0001
//	face-0002 30A-123.45   # a car at the parking barrier
package camera

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Capture is one face seen at the gate.
type Capture struct {
	FaceRef string // opaque reference to a face template, never the face
	Plate   string // plate as read, upper case; empty when none
}

// Limits on a scenario line's fields.
const (
	MaxFaceRef = 256
	MaxPlate   = 16 // as in the wire contract (proto.MaxPlateSize)
)

// ErrSyntax is wrapped by every error about a line's content.
var ErrSyntax = errors.New("camera: bad capture line")

// ParseLine parses one scenario line. It returns ok false for a blank or
// comment-only line.
func ParseLine(line string) (c Capture, ok bool, err error) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(line)
	switch len(fields) {
	case 0:
		return Capture{}, false, nil
	case 1, 2:
	default:
		return Capture{}, false, fmt.Errorf("%w: want a face ref and at most a plate, got %d fields", ErrSyntax, len(fields))
	}
	c.FaceRef = fields[0]
	if len(c.FaceRef) > MaxFaceRef {
		return Capture{}, false, fmt.Errorf("%w: face ref over %d bytes", ErrSyntax, MaxFaceRef)
	}
	if !utf8.ValidString(c.FaceRef) {
		return Capture{}, false, fmt.Errorf("%w: face ref not UTF-8", ErrSyntax)
	}
	if len(fields) == 2 {
		c.Plate = strings.ToUpper(fields[1])
		if err := checkPlate(c.Plate); err != nil {
			return Capture{}, false, err
		}
	}
	return c, true, nil
}

// checkPlate applies the wire contract's plate rule (A-Z, 0-9, '-', '.'), so
// a mistyped scenario fails here, at its line, rather than at the gate.
func checkPlate(p string) error {
	if len(p) > MaxPlate {
		return fmt.Errorf("%w: plate over %d characters", ErrSyntax, MaxPlate)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("%w: plate %q: only A-Z, 0-9, '-' and '.' allowed", ErrSyntax, p)
		}
	}
	return nil
}

// LineError is a scenario line that is not a capture. Reading goes on after it.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Reader reads captures from scenario lines.
type Reader struct {
	sc   *bufio.Scanner
	line int
}

// NewReader reads scenario lines from r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	return &Reader{sc: sc}
}

// Read returns the next capture, or io.EOF at the end of the input. A line
// that is not a capture returns a *LineError and the next Read goes on after
// it; any other error ends the input.
func (r *Reader) Read() (Capture, error) {
	for r.sc.Scan() {
		r.line++
		c, ok, err := ParseLine(r.sc.Text())
		if err != nil {
			return Capture{}, &LineError{Line: r.line, Err: err}
		}
		if ok {
			return c, nil
		}
	}
	if err := r.sc.Err(); err != nil {
		return Capture{}, fmt.Errorf("camera: after line %d: %w", r.line, err)
	}
	return Capture{}, io.EOF
}
