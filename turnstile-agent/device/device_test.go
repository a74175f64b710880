package device_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/turnstile-agent/device"
	"github.com/vnpass/vnpass/turnstile-agent/gatesim"
)

// The simulator is one implementation of the seam.
var (
	_ device.Actuator = (*gatesim.Gate)(nil)
	_ device.Display  = (*gatesim.Gate)(nil)
	_ device.Gate     = device.Gate{}
)

type brokenActuator struct{ released, held int }

func (b *brokenActuator) Release() error { b.released++; return errors.New("motor stalled") }
func (b *brokenActuator) Hold() error    { b.held++; return nil }

func TestGateDrivesDisplayThenActuator(t *testing.T) {
	sim := gatesim.New("g1", nil)
	g := device.Gate{Actuator: sim, Display: sim}
	g.Open(proto.ReasonOK.Display())
	g.Refuse(proto.ReasonPassBack.Display())
	if st := sim.State(); st.Opened != 1 || st.Refused != 1 || st.LastOpen || st.Last != proto.ReasonPassBack.Display() {
		t.Errorf("state %+v", st)
	}

	var logs bytes.Buffer
	act := &brokenActuator{}
	g = device.Gate{Actuator: act, Display: sim, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	g.Open(proto.ReasonOK.Display()) // must not panic or block
	if act.released != 1 || !strings.Contains(logs.String(), "motor stalled") {
		t.Errorf("released %d, logs %q", act.released, logs.String())
	}
}
