package agent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/vnpass/vnpass/proto"
)

// onConfig applies a config pushed on the device's retained config topic if
// its version is newer than the one in force. The broker redelivers the
// retained config on every resubscribe; that copy is simply not newer.
//
// With a state directory, the config in force is also kept on disk (a gate
// restarted without network keeps its policy and deny list), and the
// device's status, which names the config and deny list versions applied,
// is published at once: that is the acknowledgement of the push.
func (a *Agent) onConfig(payload []byte) {
	if len(payload) == 0 {
		return // the retained config was cleared; keep what is in force
	}
	c, err := proto.DecodeConfig(payload)
	if err != nil {
		a.stats.badConfigs.Add(1)
		a.log.Warn("malformed config dropped", "bytes", len(payload), "error", err)
		return
	}
	if c.Device != a.cfg.Device || c.Site != a.cfg.Site {
		a.stats.configsIgnored.Add(1)
		a.log.Warn("config for another device ignored", "config_device", c.Device, "config_site", c.Site, "version", c.Version)
		return
	}
	rate := a.drainRate()
	applied, current, denyVersion, keep := a.applyConfig(c)
	if !applied {
		a.stats.configsIgnored.Add(1)
		a.log.Debug("config not newer, ignored", "version", c.Version, "current_version", current)
		return
	}
	a.stats.configsApplied.Add(1)
	a.log.Info("config applied", "version", c.Version, "decision_timeout_ms", c.DecisionTimeoutMS,
		"deny_list_version", denyVersion, "offline_policy", c.Offline != nil, "tickets", c.Tickets != nil)
	if a.st == nil {
		return
	}
	if b, err := keep.Encode(); err != nil {
		a.log.Error("config in force does not encode; not kept on disk", "error", err)
	} else if err := writeFileAtomic(filepath.Join(a.cfg.Dir, configFileName), b); err != nil {
		a.log.Error("config in force not kept on disk", "error", err)
	}
	if a.drainRate() != rate {
		// The drain paces itself by the rate in force when it starts.
		a.cancelDrain()
	}
	go a.publishStatus()
}

// applyConfig puts c in force if it is newer than the config in force. It
// returns what is in force afterwards, as a config to keep on disk.
func (a *Agent) applyConfig(c proto.Config) (applied bool, version, denyVersion int64, keep proto.Config) {
	a.configMu.Lock()
	defer a.configMu.Unlock()
	version = a.configVersion
	if c.Version <= version {
		return false, version, 0, keep
	}
	a.configVersion = c.Version
	a.timeout.Store(int64(time.Duration(c.DecisionTimeoutMS) * time.Millisecond))
	st := a.st
	if st == nil {
		return true, c.Version, 0, keep
	}
	if c.Offline != nil {
		st.policy = *c.Offline
	}
	if l := c.DenyList; l != nil && (st.denyList == nil || l.Version > st.denyList.Version) {
		deny := make(map[string]struct{}, len(l.Subjects))
		for _, s := range l.Subjects {
			deny[s] = struct{}{}
		}
		st.denyList, st.deny = l, deny
	}
	if l := c.Tickets; l != nil && a.cfg.Kind == proto.KindRailGate && (st.tickets == nil || l.Version > st.tickets.Version) {
		st.tickets, st.ticketsBy = l, indexTickets(l)
	}
	if c.HeartbeatS > 0 {
		st.heartbeat = time.Duration(c.HeartbeatS) * time.Second
	}
	if c.DrainPerS > 0 {
		st.drainRate = c.DrainPerS
	}
	st.issuedAt = c.IssuedAt
	policy := st.policy
	keep = proto.Config{
		Version: c.Version, Device: c.Device, Site: c.Site, Kind: c.Kind,
		DecisionTimeoutMS: c.DecisionTimeoutMS, IssuedAt: c.IssuedAt,
		Offline: &policy, DenyList: st.denyList, Tickets: st.tickets,
		HeartbeatS: int(st.heartbeat / time.Second), DrainPerS: st.drainRate,
	}
	if st.denyList != nil {
		denyVersion = st.denyList.Version
	}
	return true, c.Version, denyVersion, keep
}

// loadConfig puts in force the config kept on disk by the previous run. A
// file that is missing is a gate never configured; one that does not decode
// is reported and ignored: the cloud's retained config replaces it at the
// next connect.
func (a *Agent) loadConfig() {
	path := filepath.Join(a.cfg.Dir, configFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil && len(b) > proto.MaxConfigSize {
		err = errors.New("too large")
	}
	var c proto.Config
	if err == nil {
		c, err = proto.DecodeConfig(b)
	}
	if err == nil && (c.Device != a.cfg.Device || c.Site != a.cfg.Site) {
		err = errors.New("config of another device")
	}
	if err != nil {
		a.log.Error("config kept on disk ignored", "path", path, "error", err)
		return
	}
	a.applyConfig(c)
	a.log.Info("config kept on disk in force", "version", c.Version)
}

// drainRate is the drain rate in force.
func (a *Agent) drainRate() int {
	if a.st == nil {
		return 0
	}
	a.configMu.Lock()
	defer a.configMu.Unlock()
	return a.st.drainRate
}

// configVersions returns the versions of the config and the deny list in
// force.
func (a *Agent) configVersions() (config, deny int64) {
	a.configMu.Lock()
	defer a.configMu.Unlock()
	config = a.configVersion
	if a.st != nil && a.st.denyList != nil {
		deny = a.st.denyList.Version
	}
	return config, deny
}
