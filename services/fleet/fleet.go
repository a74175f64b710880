// Package fleet is the platform's live view of its devices: what each gate
// last said of itself on its retained status topic (online or offline, queue
// depth, software, clock offset, offline decisions), when it was last heard,
// which config the platform pushed to it and whether the device has applied
// it. It owns config versions: every push gets a version newer than any the
// device has seen.
//
// The view is rebuilt from the broker alone, so it needs no database: the
// status and config topics are retained, and a service that (re)subscribes
// receives every device's latest of both. Adapters feed it (fleetmqtt) and
// serve it (fleethttp); this package does no I/O and reads no clock.
package fleet

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/vnpass/vnpass/proto"
)

// MissedHeartbeats is how many of its heartbeats an online device may miss
// before it is flagged overdue.
const MissedHeartbeats = 3

var (
	// ErrUnknownDevice: nothing was ever seen of the device, so its kind is
	// not known.
	ErrUnknownDevice = errors.New("fleet: unknown device")
	// ErrInvalid wraps every refusal of a config request.
	ErrInvalid = errors.New("fleet: invalid config")
)

// Device is what the platform knows of one device. Heard times are the
// service's clock; StatusAt is the device's own.
type Device struct {
	Site   string
	Device string
	Kind   proto.Kind // empty until a status or config names it

	// Status is the latest status, zero until one is seen.
	Status proto.Status
	// LastHeartbeat is when the latest online status was heard. A retained
	// status received at (re)subscribe was sent earlier: its time, corrected
	// by the known clock offset, stands in.
	LastHeartbeat time.Time
	// ClockOffset is the cloud's clock minus the device's (as
	// proto.Status.ClockOffsetMS): as the device measured it if it says,
	// else as measured here on its latest live online status (which counts
	// the delivery time in, milliseconds on a LAN). Valid if ClockKnown.
	ClockOffset time.Duration
	ClockKnown  bool
	// ClockSource is "device" or "fleet": who measured ClockOffset.
	ClockSource string
	// AppliedConfig and AppliedDenyList are the newest config and deny list
	// versions any of its statuses reported applied. Not simply the latest
	// status's: a last will is made when the device connects, and reports
	// what it applied then.
	AppliedConfig, AppliedDenyList int64
	// AppliedTickets is the newest ticket list a rail gate reported applied.
	AppliedTickets int64

	// Config is the latest config pushed to the device, nil if none.
	Config *Push
}

// Push is a config the platform sent a device and what became of it.
type Push struct {
	Config proto.Config
	// AckedAt is when a status first reported this version (or a newer one)
	// applied; zero while the device has not. For a config the device had
	// applied before this service saw it, the time of that status.
	AckedAt time.Time
	// DenyListAckedAt is the same for the deny list the config carries.
	DenyListAckedAt time.Time
}

// Acked reports whether the device applies the latest config pushed to it.
func (d *Device) Acked() bool {
	return d.Config != nil && d.AppliedConfig >= d.Config.Config.Version
}

// DenyListAcked reports whether the device applies the newest deny list
// pushed to it; false if none was.
func (d *Device) DenyListAcked() bool {
	return d.Config != nil && d.Config.Config.DenyList != nil &&
		d.AppliedDenyList >= d.Config.Config.DenyList.Version
}

// HeartbeatInterval is how often the device says it republishes its status;
// zero for a device that sends it only on changes.
func (d *Device) HeartbeatInterval() time.Duration {
	return time.Duration(d.Status.HeartbeatS) * time.Second
}

// Overdue reports whether a device that says it is online has missed
// MissedHeartbeats of its heartbeats. A device that does not heartbeat is
// never overdue: its silence says nothing.
func (d *Device) Overdue(now time.Time) bool {
	hb := d.HeartbeatInterval()
	return d.Status.State == proto.StateOnline && hb > 0 && now.Sub(d.LastHeartbeat) > MissedHeartbeats*hb
}

// Status is one status message as an adapter received it.
type Status struct {
	proto.Status
	// Heard is when it arrived (service clock).
	Heard time.Time
	// Live is false for a retained status delivered on subscribe: it was
	// sent at some earlier time, so it says nothing of the clock and is not
	// a heartbeat heard now.
	Live bool
}

// Fleet is the live view. Safe for concurrent use.
type Fleet struct {
	mu      sync.RWMutex
	devices map[key]*Device
}

type key struct{ site, device string }

// New returns an empty view.
func New() *Fleet { return &Fleet{devices: make(map[key]*Device)} }

func (f *Fleet) get(site, device string) *Device {
	k := key{site, device}
	d := f.devices[k]
	if d == nil {
		d = &Device{Site: site, Device: device}
		f.devices[k] = d
	}
	return d
}

// ApplyStatus records a device's status. Statuses are applied in the order
// they arrive, which is the order the broker took them: a device's last will
// (offline) carries the time of its connect, earlier than the online status
// it follows, so the time in a status cannot order them.
func (f *Fleet) ApplyStatus(s Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.get(s.Site, s.Device)
	d.Kind = s.Kind
	d.Status = s.Status
	d.AppliedConfig = max(d.AppliedConfig, s.ConfigVersion)
	d.AppliedDenyList = max(d.AppliedDenyList, s.DenyListVersion)
	d.AppliedTickets = max(d.AppliedTickets, s.TicketsVersion)
	if o := s.ClockOffsetMS; o != nil {
		d.ClockOffset, d.ClockKnown, d.ClockSource = time.Duration(*o)*time.Millisecond, true, "device"
	}
	// Only a live online status is a heartbeat, and only its time is now: an
	// offline one may be the last will, made when the device connected.
	if s.State == proto.StateOnline {
		switch {
		case s.Live:
			d.LastHeartbeat = s.Heard
			if s.ClockOffsetMS == nil {
				d.ClockOffset, d.ClockKnown, d.ClockSource = s.Heard.Sub(s.At.Time), true, "fleet"
			}
		default:
			est := s.At.Time
			if d.ClockKnown {
				est = est.Add(d.ClockOffset)
			}
			if est.After(s.Heard) {
				est = s.Heard
			}
			if est.After(d.LastHeartbeat) {
				d.LastHeartbeat = est
			}
		}
	}
	f.ack(d, s.Heard)
}

// ack dates the device's acknowledgements of its latest push.
func (f *Fleet) ack(d *Device, at time.Time) {
	if d.Config == nil {
		return
	}
	if d.Acked() && d.Config.AckedAt.IsZero() {
		d.Config.AckedAt = at
	}
	if d.DenyListAcked() && d.Config.DenyListAckedAt.IsZero() {
		d.Config.DenyListAckedAt = at
	}
}

// ApplyConfig records a config seen on the broker: one this service pushed,
// another replica's, or the retained one found at start. A version not newer
// than the one held changes nothing.
func (f *Fleet) ApplyConfig(c proto.Config, heard time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.get(c.Site, c.Device)
	if d.Config != nil && c.Version <= d.Config.Config.Version {
		return
	}
	d.Config = &Push{Config: c}
	if d.Kind == "" {
		d.Kind = c.Kind
	}
	// Applied already (a retained config the device took before this service
	// started): acknowledged by its latest status, whenever that was.
	at := d.LastHeartbeat
	if at.IsZero() {
		at = heard
	}
	f.ack(d, at)
}

// Forget drops a device whose retained status was cleared (it was revoked
// or retired): nothing of it is left on the broker to show.
func (f *Fleet) Forget(site, device string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.devices, key{site, device})
}

// NextConfig makes the config to push to a device. It starts from the last
// config pushed to the device, so that the retained config is always whole
// (a device that lost its state finds everything there), and takes from want
// every field it sets: decision timeout, offline policy, deny list, ticket
// list (rail gates), heartbeat and drain rate (zero or nil: keep). The device's identity and
// kind are filled in, the issue time is now, and the version is newer than
// any seen for the device: the issue time in Unix milliseconds, or one more
// than the newest seen if that is later, so versions keep increasing across
// restarts and replicas without a store of their own. want.Kind is needed
// only for a device never seen.
func (f *Fleet) NextConfig(site, device string, want proto.Config, now time.Time) (proto.Config, error) {
	if err := proto.CheckID(site); err != nil {
		return proto.Config{}, fmt.Errorf("%w: site: %v", ErrInvalid, err)
	}
	if err := proto.CheckID(device); err != nil {
		return proto.Config{}, fmt.Errorf("%w: device: %v", ErrInvalid, err)
	}
	var c proto.Config
	var kind proto.Kind
	var last int64
	f.mu.RLock()
	if d := f.devices[key{site, device}]; d != nil {
		kind = d.Kind
		if d.Config != nil {
			c = d.Config.Config
			last = c.Version
		}
		last = max(last, d.AppliedConfig)
	}
	f.mu.RUnlock()
	switch {
	case kind == "" && want.Kind == "":
		return proto.Config{}, fmt.Errorf("%w: %s/%s: give its kind", ErrUnknownDevice, site, device)
	case kind != "" && want.Kind != "" && want.Kind != kind:
		return proto.Config{}, fmt.Errorf("%w: kind %q, but the device is a %s", ErrInvalid, want.Kind, kind)
	case kind == "":
		kind = want.Kind
	}
	if want.DecisionTimeoutMS != 0 {
		c.DecisionTimeoutMS = want.DecisionTimeoutMS
	}
	if want.Offline != nil {
		c.Offline = want.Offline
	}
	if want.DenyList != nil {
		c.DenyList = want.DenyList
	}
	if want.Tickets != nil {
		c.Tickets = want.Tickets
	}
	if want.HeartbeatS != 0 {
		c.HeartbeatS = want.HeartbeatS
	}
	if want.DrainPerS != 0 {
		c.DrainPerS = want.DrainPerS
	}
	c.V = proto.Version
	c.Site, c.Device, c.Kind = site, device, kind
	c.IssuedAt = proto.At(now)
	c.Version = max(last+1, c.IssuedAt.UnixMilli())
	if _, err := c.Encode(); err != nil {
		return proto.Config{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return c, nil
}

// Device returns a copy of one device's view.
func (f *Fleet) Device(site, device string) (Device, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	d := f.devices[key{site, device}]
	if d == nil {
		return Device{}, false
	}
	return copyDevice(d), true
}

// Devices returns a copy of every device's view, by site and device id.
func (f *Fleet) Devices() []Device {
	f.mu.RLock()
	out := make([]Device, 0, len(f.devices))
	for _, d := range f.devices {
		out = append(out, copyDevice(d))
	}
	f.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Site != out[j].Site {
			return out[i].Site < out[j].Site
		}
		return out[i].Device < out[j].Device
	})
	return out
}

// copyDevice copies what callers may hold on to. The pushed config's deny
// list and policy are shared: they are never changed in place.
func copyDevice(d *Device) Device {
	c := *d
	if d.Config != nil {
		p := *d.Config
		c.Config = &p
	}
	if d.Status.ClockOffsetMS != nil {
		o := *d.Status.ClockOffsetMS
		c.Status.ClockOffsetMS = &o
	}
	return c
}

// Summary counts devices by what an operator watches.
type Summary struct {
	Devices        int   `json:"devices"`
	Online         int   `json:"online"`
	Offline        int   `json:"offline"`
	Unknown        int   `json:"unknown"`         // a config was pushed, no status seen yet
	Overdue        int   `json:"overdue"`         // online, but missed its heartbeats
	ConfigPending  int   `json:"config_pending"`  // not yet applying the latest config pushed
	QueuedTaps     int   `json:"queued_taps"`     // sum of reported queue depths
	OfflineOpened  int64 `json:"offline_opened"`  // offline decisions reported, sum
	OfflineRefused int64 `json:"offline_refused"` // offline decisions reported, sum
}

// Summarize counts ds at now.
func Summarize(ds []Device, now time.Time) Summary {
	var s Summary
	for i := range ds {
		d := &ds[i]
		s.Devices++
		switch d.Status.State {
		case proto.StateOnline:
			s.Online++
		case proto.StateOffline:
			s.Offline++
		default:
			s.Unknown++
		}
		if d.Overdue(now) {
			s.Overdue++
		}
		if d.Config != nil && !d.Acked() {
			s.ConfigPending++
		}
		s.QueuedTaps += d.Status.QueueDepth
		s.OfflineOpened += d.Status.OfflineOpened
		s.OfflineRefused += d.Status.OfflineRefused
	}
	return s
}
