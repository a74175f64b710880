package fleet_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/fleet"
)

var t0 = time.Date(2026, 11, 24, 0, 30, 0, 0, time.UTC)

func status(state proto.State, at time.Time) proto.Status {
	return proto.Status{V: 1, Device: "g01", Site: "s1", Kind: proto.KindMetroEntry, State: state,
		Software: "vnpass-agent/0.2.0", At: proto.At(at), HeartbeatS: 30}
}

func i64(v int64) *int64 { return &v }

func mustDevice(t *testing.T, f *fleet.Fleet) fleet.Device {
	t.Helper()
	d, ok := f.Device("s1", "g01")
	if !ok {
		t.Fatal("device not in the view")
	}
	return d
}

func TestHeartbeatAndClock(t *testing.T) {
	f := fleet.New()
	// The device's clock runs 2 s behind ours.
	f.ApplyStatus(fleet.Status{Status: status(proto.StateOnline, t0.Add(-2*time.Second)), Heard: t0, Live: true})
	d := mustDevice(t, f)
	if d.LastHeartbeat != t0 || !d.ClockKnown || d.ClockOffset != 2*time.Second || d.ClockSource != "fleet" {
		t.Fatalf("after a live status: heartbeat %v offset %v known %v source %q", d.LastHeartbeat, d.ClockOffset, d.ClockKnown, d.ClockSource)
	}
	for _, c := range []struct {
		after time.Duration
		want  bool
	}{{89 * time.Second, false}, {90 * time.Second, false}, {91 * time.Second, true}} {
		if got := d.Overdue(t0.Add(c.after)); got != c.want {
			t.Errorf("overdue after %v = %v, want %v", c.after, got, c.want)
		}
	}

	// What the device measured itself wins over what the fleet measured.
	s := status(proto.StateOnline, t0.Add(28*time.Second))
	s.ClockOffsetMS = i64(1500)
	f.ApplyStatus(fleet.Status{Status: s, Heard: t0.Add(30 * time.Second), Live: true})
	d = mustDevice(t, f)
	if d.ClockOffset != 1500*time.Millisecond || d.ClockSource != "device" || d.LastHeartbeat != t0.Add(30*time.Second) {
		t.Fatalf("device-measured offset: %v from %q, heartbeat %v", d.ClockOffset, d.ClockSource, d.LastHeartbeat)
	}

	// The last will carries the connect time: it sets the state, not the heartbeat or clock.
	f.ApplyStatus(fleet.Status{Status: status(proto.StateOffline, t0.Add(-time.Hour)), Heard: t0.Add(40 * time.Second), Live: true})
	d = mustDevice(t, f)
	if d.Status.State != proto.StateOffline || d.LastHeartbeat != t0.Add(30*time.Second) || d.ClockOffset != 1500*time.Millisecond {
		t.Fatalf("after the will: state %s heartbeat %v offset %v", d.Status.State, d.LastHeartbeat, d.ClockOffset)
	}
	if d.Overdue(t0.Add(time.Hour)) {
		t.Error("an offline device is overdue")
	}
}

func TestRetainedStatusAtStart(t *testing.T) {
	f := fleet.New()
	s := status(proto.StateOnline, t0.Add(-45*time.Second))
	s.ClockOffsetMS = i64(5000) // device 5 s behind: sent at t0-40s by our clock
	f.ApplyStatus(fleet.Status{Status: s, Heard: t0})
	d := mustDevice(t, f)
	if want := t0.Add(-40 * time.Second); d.LastHeartbeat != want {
		t.Fatalf("heartbeat from a retained status %v, want %v", d.LastHeartbeat, want)
	}
	if !d.Overdue(t0.Add(51 * time.Second)) {
		t.Error("not overdue 91 s after the retained heartbeat")
	}
	// A retained status never dates a heartbeat in the future.
	f.ApplyStatus(fleet.Status{Status: status(proto.StateOnline, t0.Add(time.Hour)), Heard: t0.Add(time.Second)})
	if d = mustDevice(t, f); d.LastHeartbeat != t0.Add(time.Second) {
		t.Fatalf("heartbeat %v from a status dated in the future", d.LastHeartbeat)
	}
}

func TestNoHeartbeatNeverOverdue(t *testing.T) {
	f := fleet.New()
	s := status(proto.StateOnline, t0)
	s.HeartbeatS = 0 // an older agent: status only on changes
	f.ApplyStatus(fleet.Status{Status: s, Heard: t0, Live: true})
	if d := mustDevice(t, f); d.Overdue(t0.Add(24 * time.Hour)) {
		t.Error("a device without heartbeats flagged overdue")
	}
}

func TestConfigPushAndAck(t *testing.T) {
	f := fleet.New()
	if _, err := f.NextConfig("s1", "g01", proto.Config{DecisionTimeoutMS: 1500}, t0); !errors.Is(err, fleet.ErrUnknownDevice) {
		t.Fatalf("push to an unseen device without its kind: %v", err)
	}
	c1, err := f.NextConfig("s1", "g01", proto.Config{Kind: proto.KindMetroEntry, DecisionTimeoutMS: 1500}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Version != t0.UnixMilli() || c1.Site != "s1" || c1.Device != "g01" || c1.Kind != proto.KindMetroEntry || !c1.IssuedAt.Equal(t0) {
		t.Fatalf("first config %+v", c1)
	}
	f.ApplyConfig(c1, t0)
	d := mustDevice(t, f)
	if d.Config == nil || d.Acked() || d.Kind != proto.KindMetroEntry {
		t.Fatalf("after the push: %+v", d)
	}

	// A second push in the same millisecond still gets a newer version, and
	// keeps what it does not change.
	deny := &proto.DenyList{Version: 12, IssuedAt: proto.At(t0), Subjects: []string{"vn_4f1c9a"}}
	c2, err := f.NextConfig("s1", "g01", proto.Config{DenyList: deny}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Version != c1.Version+1 || c2.DecisionTimeoutMS != 1500 || c2.DenyList == nil || c2.DenyList.Version != 12 {
		t.Fatalf("second config %+v", c2)
	}
	f.ApplyConfig(c2, t0)
	f.ApplyConfig(c1, t0) // an older copy (another replica's, late) changes nothing
	if d = mustDevice(t, f); d.Config.Config.Version != c2.Version {
		t.Fatalf("pushed version %d, want %d", d.Config.Config.Version, c2.Version)
	}

	// The device applies c1 first: not yet acknowledged.
	s := status(proto.StateOnline, t0.Add(time.Second))
	s.ConfigVersion = c1.Version
	f.ApplyStatus(fleet.Status{Status: s, Heard: t0.Add(time.Second), Live: true})
	if d = mustDevice(t, f); d.Acked() || !d.Config.AckedAt.IsZero() {
		t.Fatal("acknowledged with an older version applied")
	}
	if sum := fleet.Summarize(f.Devices(), t0); sum.ConfigPending != 1 || sum.Online != 1 {
		t.Fatalf("summary %+v", sum)
	}
	// Then c2 with its deny list.
	s.ConfigVersion, s.DenyListVersion = c2.Version, 12
	f.ApplyStatus(fleet.Status{Status: s, Heard: t0.Add(2 * time.Second), Live: true})
	d = mustDevice(t, f)
	if !d.Acked() || d.Config.AckedAt != t0.Add(2*time.Second) || !d.DenyListAcked() || d.Config.DenyListAckedAt != t0.Add(2*time.Second) {
		t.Fatalf("after the acknowledging status: acked %v at %v, deny list %v at %v", d.Acked(), d.Config.AckedAt, d.DenyListAcked(), d.Config.DenyListAckedAt)
	}
	// A later status does not move the acknowledgement time.
	f.ApplyStatus(fleet.Status{Status: s, Heard: t0.Add(time.Minute), Live: true})
	if d = mustDevice(t, f); d.Config.AckedAt != t0.Add(2*time.Second) {
		t.Fatalf("acknowledgement moved to %v", d.Config.AckedAt)
	}
	// The last will, made at connect, reports older versions: the
	// acknowledgement stands.
	will := status(proto.StateOffline, t0.Add(-time.Hour))
	will.ConfigVersion = c1.Version
	f.ApplyStatus(fleet.Status{Status: will, Heard: t0.Add(time.Minute), Live: true})
	if d = mustDevice(t, f); !d.Acked() || !d.DenyListAcked() || d.AppliedConfig != c2.Version {
		t.Fatalf("the last will undid the acknowledgement: applied %d", d.AppliedConfig)
	}

	// A device that reports a version newer than any pushed here (pushed by a
	// replica whose copy we have not seen) gets a newer one still.
	s.ConfigVersion = t0.Add(time.Hour).UnixMilli()
	f.ApplyStatus(fleet.Status{Status: s, Heard: t0.Add(time.Minute), Live: true})
	c3, err := f.NextConfig("s1", "g01", proto.Config{}, t0.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if c3.Version != s.ConfigVersion+1 {
		t.Fatalf("version %d, want %d", c3.Version, s.ConfigVersion+1)
	}
}

func TestNextConfigRefusals(t *testing.T) {
	f := fleet.New()
	f.ApplyStatus(fleet.Status{Status: status(proto.StateOnline, t0), Heard: t0, Live: true})
	for name, c := range map[string]struct {
		site, device string
		want         proto.Config
	}{
		"no decision timeout yet": {"s1", "g01", proto.Config{}},
		"timeout too short":       {"s1", "g01", proto.Config{DecisionTimeoutMS: 10}},
		"other kind":              {"s1", "g01", proto.Config{DecisionTimeoutMS: 2000, Kind: proto.KindMetroExit}},
		"bad site":                {"S1", "g01", proto.Config{DecisionTimeoutMS: 2000, Kind: proto.KindMetroExit}},
		"bad device":              {"s1", "g/1", proto.Config{DecisionTimeoutMS: 2000, Kind: proto.KindMetroExit}},
		"heartbeat too fast":      {"s1", "g01", proto.Config{DecisionTimeoutMS: 2000, HeartbeatS: 1}},
		"deny list without version": {"s1", "g01", proto.Config{DecisionTimeoutMS: 2000,
			DenyList: &proto.DenyList{IssuedAt: proto.At(t0), Subjects: []string{"vn_1"}}}},
	} {
		if _, err := f.NextConfig(c.site, c.device, c.want, t0); !errors.Is(err, fleet.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// A config the device applied before the service started (both retained)
// counts as acknowledged.
func TestRetainedConfigAlreadyApplied(t *testing.T) {
	f := fleet.New()
	c := proto.Config{V: 1, Version: 7, Device: "g01", Site: "s1", Kind: proto.KindMetroEntry, DecisionTimeoutMS: 2000, IssuedAt: proto.At(t0)}
	s := status(proto.StateOnline, t0.Add(time.Minute))
	s.ConfigVersion = 7
	f.ApplyStatus(fleet.Status{Status: s, Heard: t0.Add(time.Hour)})
	f.ApplyConfig(c, t0.Add(time.Hour))
	d := mustDevice(t, f)
	if !d.Acked() || d.Config.AckedAt != t0.Add(time.Minute) {
		t.Fatalf("acked %v at %v", d.Acked(), d.Config.AckedAt)
	}
}

func TestSummaryAndForget(t *testing.T) {
	f := fleet.New()
	add := func(dev string, state proto.State, heard time.Time, queue int, offline int64) {
		s := status(state, heard)
		s.Device, s.QueueDepth, s.OfflineOpened = dev, queue, offline
		f.ApplyStatus(fleet.Status{Status: s, Heard: heard, Live: true})
	}
	add("g01", proto.StateOnline, t0, 3, 1)
	add("g02", proto.StateOnline, t0.Add(-5*time.Minute), 10, 0) // silent for 5 minutes
	add("g03", proto.StateOffline, t0, 7, 2)
	c, err := f.NextConfig("s1", "g04", proto.Config{Kind: proto.KindMetroExit, DecisionTimeoutMS: 2000}, t0)
	if err != nil {
		t.Fatal(err)
	}
	f.ApplyConfig(c, t0)
	got := fleet.Summarize(f.Devices(), t0)
	want := fleet.Summary{Devices: 4, Online: 2, Offline: 1, Unknown: 1, Overdue: 1, ConfigPending: 1, QueuedTaps: 20, OfflineOpened: 3}
	if got != want {
		t.Fatalf("summary %+v, want %+v", got, want)
	}
	ds := f.Devices()
	if ds[0].Device != "g01" || ds[3].Device != "g04" {
		t.Fatalf("order %s..%s", ds[0].Device, ds[3].Device)
	}
	f.Forget("s1", "g02")
	if _, ok := f.Device("s1", "g02"); ok || len(f.Devices()) != 3 {
		t.Fatal("forgotten device still in the view")
	}
}
