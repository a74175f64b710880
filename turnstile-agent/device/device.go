// Package device is the gate's hardware seam: the camera that sees a rider's
// face, the plate reader of a parking barrier, the actuator that lets one
// passage through and the display that tells the rider what happened. The
// agent drives the hardware only through these small interfaces; the
// simulator (turnstile-agent/camera, turnstile-agent/gatesim) is one
// implementation, a turnstile vendor's driver is another.
package device

import (
	"context"
	"log/slog"

	"github.com/vnpass/vnpass/proto"
)

// Camera yields the faces seen at the gate, one per rider. A face is a
// reference only the identity provider can match, never an image.
type Camera interface {
	// Next blocks until a face is captured. It returns io.EOF when the
	// camera has stopped for good, and ctx's error when ctx ends first.
	Next(ctx context.Context) (faceRef string, err error)
}

// PlateReader reads the number plate of the vehicle at a parking barrier.
type PlateReader interface {
	// Plate returns the plate of the vehicle at the barrier now, upper
	// case, or "" when none could be read.
	Plate(ctx context.Context) (string, error)
}

// Actuator moves the barrier.
type Actuator interface {
	Release() error // let one passage through
	Hold() error    // keep the barrier shut
}

// Display shows the rider the outcome, in Vietnamese and English.
type Display interface {
	Show(open bool, d proto.Display) error
}

// Gate joins an actuator and a display into what the agent drives
// (agent.Gate). The display is updated first, so that the rider reads why
// before the barrier moves. A hardware error is logged, not returned: the
// tap has been decided and recorded whatever the barrier did.
type Gate struct {
	Actuator Actuator
	Display  Display
	Log      *slog.Logger
}

// Open shows d and releases the barrier.
func (g Gate) Open(d proto.Display) {
	g.check("display", g.Display.Show(true, d))
	g.check("actuator", g.Actuator.Release())
}

// Refuse shows d and keeps the barrier shut.
func (g Gate) Refuse(d proto.Display) {
	g.check("display", g.Display.Show(false, d))
	g.check("actuator", g.Actuator.Hold())
}

func (g Gate) check(part string, err error) {
	if err != nil && g.Log != nil {
		g.Log.Error("gate hardware failed", "part", part, "error", err)
	}
}
