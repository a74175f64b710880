package camera_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/vnpass/vnpass/turnstile-agent/camera"
)

func TestStream(t *testing.T) {
	var skipped []int
	s := camera.NewStream(strings.NewReader("face-1\nface-2 30a-123.45\nbad line with fields\nface-3\n"),
		func(le *camera.LineError) { skipped = append(skipped, le.Line) })
	defer s.Close()
	ctx := context.Background()
	for _, want := range []struct{ face, plate string }{{"face-1", ""}, {"face-2", "30A-123.45"}, {"face-3", ""}} {
		face, err := s.Next(ctx)
		plate, _ := s.Plate(ctx)
		if err != nil || face != want.face || plate != want.plate {
			t.Fatalf("Next = %q %q %v, want %q %q", face, plate, err, want.face, want.plate)
		}
	}
	if _, err := s.Next(ctx); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
	if len(skipped) != 1 || skipped[0] != 3 {
		t.Errorf("skipped lines %v, want [3]", skipped)
	}

	r, _ := io.Pipe() // a camera that never sees anyone
	idle := camera.NewStream(r, nil)
	defer idle.Close()
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := idle.Next(ctx); err != context.DeadlineExceeded {
		t.Errorf("idle camera: %v", err)
	}
}
