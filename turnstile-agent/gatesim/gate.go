// Package gatesim is a simulated turnstile. It keeps the state a real gate
// controller would report (how often it opened and refused, what its display
// last showed) and writes one human-readable line per event, for someone
// watching a simulated station. It is both halves of the hardware seam
// (device.Actuator and device.Display), and the agent's Gate by itself.
package gatesim

import (
	"fmt"
	"io"
	"sync"

	"github.com/vnpass/vnpass/proto"
)

// Gate is a simulated turnstile. It is safe for concurrent use.
type Gate struct {
	id string

	mu    sync.Mutex
	out   io.Writer // guarded by mu, so lines never interleave
	state State
}

// State is what the gate has done so far.
type State struct {
	Opened, Refused int
	LastOpen        bool          // whether the last event opened the gate
	Last            proto.Display // what the display shows now
}

// New returns a closed gate named id that writes its events to out (nil for
// none).
func New(id string, out io.Writer) *Gate {
	return &Gate{id: id, out: out}
}

// The two labels padded to one width so that the texts line up.
const (
	labelOpen   = "MỞ / OPEN      "
	labelClosed = "ĐÓNG / CLOSED  "
)

// Open lets one rider through and shows d.
func (g *Gate) Open(d proto.Display) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.state.Opened++
	g.state.LastOpen = true
	g.state.Last = d
	g.write(labelOpen, d)
}

// Refuse keeps the gate closed and shows d.
func (g *Gate) Refuse(d proto.Display) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.state.Refused++
	g.state.LastOpen = false
	g.state.Last = d
	g.write(labelClosed, d)
}

// Show puts d on the display (device.Display) and writes the event line.
func (g *Gate) Show(open bool, d proto.Display) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.state.Last = d
	label := labelClosed
	if open {
		label = labelOpen
	}
	g.write(label, d)
	return nil
}

// Release lets one passage through (device.Actuator).
func (g *Gate) Release() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.state.Opened++
	g.state.LastOpen = true
	return nil
}

// Hold keeps the barrier shut (device.Actuator).
func (g *Gate) Hold() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.state.Refused++
	g.state.LastOpen = false
	return nil
}

// State returns a snapshot of the gate's state.
func (g *Gate) State() State {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

// write prints one event line; g.mu is held. A failing writer does not stop
// the gate: the line is for people, the state is what counts.
func (g *Gate) write(label string, d proto.Display) {
	if g.out == nil {
		return
	}
	fmt.Fprintf(g.out, "[%s] %s%s · %s\n", g.id, label, d.VI, d.EN)
}
