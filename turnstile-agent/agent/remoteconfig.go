package agent

import (
	"time"

	"github.com/vnpass/vnpass/proto"
)

// onConfig applies a config pushed on the device's retained config topic if
// its version is newer than the one in force. The broker redelivers the
// retained config on every resubscribe; that copy is simply not newer.
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
	timeout := time.Duration(c.DecisionTimeoutMS) * time.Millisecond
	a.configMu.Lock()
	current := a.configVersion
	newer := c.Version > current
	if newer {
		a.configVersion = c.Version
		a.timeout.Store(int64(timeout))
	}
	a.configMu.Unlock()
	if !newer {
		a.stats.configsIgnored.Add(1)
		a.log.Debug("config not newer, ignored", "version", c.Version, "current_version", current)
		return
	}
	a.stats.configsApplied.Add(1)
	a.log.Info("config applied", "version", c.Version, "decision_timeout_ms", c.DecisionTimeoutMS)
}
