package agent

import (
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/proto"
)

// uplink carries encoded taps to the cloud for an agent without a state
// directory (online only): a QoS 1 publish straight to the broker. With a
// state directory every tap goes through the queue instead (outbox.go).
type uplink interface {
	// send hands one encoded tap to the transport without blocking on the
	// network. The tap's event id stays the same through every retry.
	send(tap proto.Tap, payload []byte) delivery
}

// delivery is the progress of one tap through the uplink: Done is closed when
// the transport has taken responsibility for it (or failed), then Error says
// which. paho's Token satisfies it, so a tap costs no goroutine of its own.
type delivery interface {
	Done() <-chan struct{}
	Error() error
}

// mqttUplink publishes taps QoS 1 on the device's taps topic. Its delivery is
// paho's token: done at the broker's PUBACK, or failed at once when paho has
// no free message id (a lost tap unless the token is read).
type mqttUplink struct {
	client mqtt.Client
	topic  string
}

func (u mqttUplink) send(_ proto.Tap, payload []byte) delivery {
	// While paho reconnects it would keep the tap and send it once the link
	// is back, long after the gate refused the rider, who may be charged for
	// a gate that stayed shut. Without a durable queue and a local decision
	// (a state directory) the honest answer is to fail now.
	if !u.client.IsConnectionOpen() {
		return failed{ErrNotConnected}
	}
	return u.client.Publish(u.topic, 1, false, payload)
}

// failed is a delivery that failed before it started.
type failed struct{ err error }

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (failed) Done() <-chan struct{} { return closedChan }
func (f failed) Error() error        { return f.err }
