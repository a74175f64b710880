package camera

import (
	"context"
	"errors"
	"io"
	"sync"
)

// Stream is the simulated camera and plate reader of one gate
// (device.Camera and device.PlateReader): scenario lines read on a goroutine
// of its own, since a read from a terminal or pipe cannot be interrupted.
// Plate returns the plate of the line that gave the last face.
type Stream struct {
	captures chan Capture
	done     chan struct{}
	stop     sync.Once

	mu    sync.Mutex
	err   error // what ended the input: io.EOF or a read error
	plate string
}

// NewStream starts reading scenario lines from r. A line that is not a
// capture is handed to skipped (may be nil) and reading goes on.
func NewStream(r io.Reader, skipped func(*LineError)) *Stream {
	s := &Stream{captures: make(chan Capture), done: make(chan struct{})}
	go func() {
		defer close(s.captures)
		rd := NewReader(r)
		for {
			c, err := rd.Read()
			var le *LineError
			switch {
			case errors.As(err, &le):
				if skipped != nil {
					skipped(le)
				}
				continue
			case err != nil:
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				return
			}
			select {
			case s.captures <- c:
			case <-s.done:
				return
			}
		}
	}()
	return s
}

// Next returns the next face, io.EOF at the end of the input, a read error,
// or ctx's error.
func (s *Stream) Next(ctx context.Context) (string, error) {
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case c, ok := <-s.captures:
		if !ok {
			s.mu.Lock()
			defer s.mu.Unlock()
			return "", s.err
		}
		s.mu.Lock()
		s.plate = c.Plate
		s.mu.Unlock()
		return c.FaceRef, nil
	}
}

// Plate returns the plate read with the last face, or "".
func (s *Stream) Plate(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.plate, nil
}

// Close stops the reading goroutine, except that it may stay blocked in a
// read until the process exits.
func (s *Stream) Close() { s.stop.Do(func() { close(s.done) }) }
