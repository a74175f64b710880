package proto

import (
	"errors"
	"fmt"
	"strings"
)

// Version is the major version of the wire contract this package speaks.
const Version = 1

// DefaultRoot is the topic root of version 1 in production.
const DefaultRoot = "vnpass/v1"

// Channel names the four kinds of topic. Data flows from devices on taps and
// status; commands flow to devices on decisions and config. Broker ACLs grant
// a gate write on the first two and read on the last two, nothing else.
type Channel string

const (
	ChanTaps      Channel = "taps"      // device -> cloud, QoS 1
	ChanStatus    Channel = "status"    // device -> cloud, QoS 1, retained, last will
	ChanDecisions Channel = "decisions" // cloud -> device, QoS 1
	ChanConfig    Channel = "config"    // cloud -> device, QoS 1, retained
)

// Topics builds and parses topic names under one root. The zero value uses
// DefaultRoot. Tests and staging run under their own root (for example
// "vnpass/t/<id>/v1") so that they never see each other's traffic.
type Topics struct {
	Root string
}

func (t Topics) root() string {
	if t.Root == "" {
		return DefaultRoot
	}
	return t.Root
}

// Topic returns root/channel/site/device.
func (t Topics) Topic(c Channel, site, device string) string {
	return t.root() + "/" + string(c) + "/" + site + "/" + device
}

// Taps is the topic a device publishes its taps on.
func (t Topics) Taps(site, device string) string { return t.Topic(ChanTaps, site, device) }

// Decisions is the topic a device receives decisions on.
func (t Topics) Decisions(site, device string) string { return t.Topic(ChanDecisions, site, device) }

// Status is the retained status topic of a device (also its last will).
func (t Topics) Status(site, device string) string { return t.Topic(ChanStatus, site, device) }

// Config is the retained config topic of a device.
func (t Topics) Config(site, device string) string { return t.Topic(ChanConfig, site, device) }

// Filter is the subscription filter for one channel across all devices.
func (t Topics) Filter(c Channel) string { return t.root() + "/" + string(c) + "/+/+" }

// Shared is the shared-subscription filter that spreads a channel over the
// members of group (MQTT 5 and Mosquitto/EMQX with 3.1.1 clients).
func (t Topics) Shared(group string, c Channel) string {
	return "$share/" + group + "/" + t.Filter(c)
}

// ErrTopic is returned for a topic that is not one of ours.
var ErrTopic = errors.New("proto: bad topic")

// Parse splits a topic under this root into channel, site and device.
func (t Topics) Parse(topic string) (c Channel, site, device string, err error) {
	rest, ok := strings.CutPrefix(topic, t.root()+"/")
	if !ok {
		return "", "", "", fmt.Errorf("%w: %q not under %q", ErrTopic, topic, t.root())
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return "", "", "", fmt.Errorf("%w: %q: want %s/<channel>/<site>/<device>", ErrTopic, topic, t.root())
	}
	c = Channel(parts[0])
	switch c {
	case ChanTaps, ChanStatus, ChanDecisions, ChanConfig:
	default:
		return "", "", "", fmt.Errorf("%w: %q: unknown channel %q", ErrTopic, topic, parts[0])
	}
	if err := checkID("site", parts[1]); err != nil {
		return "", "", "", fmt.Errorf("%w: %q: %v", ErrTopic, topic, err)
	}
	if err := checkID("device", parts[2]); err != nil {
		return "", "", "", fmt.Errorf("%w: %q: %v", ErrTopic, topic, err)
	}
	return c, parts[1], parts[2], nil
}
