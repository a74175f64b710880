package agent

import "sync/atomic"

// Stats counts what an agent has done since New.
type Stats struct {
	Taps     uint64 // calls to Tap
	Opened   uint64 // gate opened (on the cloud's decision or its own)
	Refused  uint64 // gate refused, for any reason (cloud, timeout, local)
	Timeouts uint64 // no decision within the decision timeout
	NoMatch  uint64 // face matched no citizen; nothing published

	MatchErrors  uint64 // the Matcher failed (service unreachable, ...)
	UplinkErrors uint64 // a tap could not be handed to the broker

	MalformedDecisions uint64 // decision payloads that did not decode
	StrayDecisions     uint64 // decisions for no waiting or queued tap: duplicates (QoS 1) or late

	ConfigsApplied   uint64 // pushed configs newer than the one in force
	ConfigsIgnored   uint64 // pushed configs not newer, or for another device
	MalformedConfigs uint64 // config payloads that did not decode

	// With a state directory.
	OfflineOpened  uint64 // gate opened on its own decision
	OfflineRefused uint64 // gate refused on its own decision
	Settled        uint64 // decisions for queued taps nobody waited for (offline, from before a restart, given up)
	Sent           uint64 // queued taps handed to the broker, repeats included
	Resends        uint64 // times the drain started again because nothing came back
	QueueErrors    uint64 // a tap could not be queued, or acknowledgements not written
	CorruptQueued  uint64 // queue entries that were not taps of this gate: reported and skipped
	QueueDepth     int    // taps in the queue now, not yet decided
}

type counters struct {
	taps, opened, refused, timeouts, noMatch   atomic.Uint64
	matchErrors, uplinkErrors                  atomic.Uint64
	malformedDecisions, strayDecisions         atomic.Uint64
	configsApplied, configsIgnored, badConfigs atomic.Uint64
	offlineOpened, offlineRefused, settled     atomic.Uint64
	sent, resends, queueErrors, corruptQueued  atomic.Uint64
}

// Stats returns a snapshot of the counters. Each counter is read atomically;
// the snapshot as a whole is not taken at one instant.
func (a *Agent) Stats() Stats {
	c := &a.stats
	s := Stats{
		Taps:               c.taps.Load(),
		Opened:             c.opened.Load(),
		Refused:            c.refused.Load(),
		Timeouts:           c.timeouts.Load(),
		NoMatch:            c.noMatch.Load(),
		MatchErrors:        c.matchErrors.Load(),
		UplinkErrors:       c.uplinkErrors.Load(),
		MalformedDecisions: c.malformedDecisions.Load(),
		StrayDecisions:     c.strayDecisions.Load(),
		ConfigsApplied:     c.configsApplied.Load(),
		ConfigsIgnored:     c.configsIgnored.Load(),
		MalformedConfigs:   c.badConfigs.Load(),
		OfflineOpened:      c.offlineOpened.Load(),
		OfflineRefused:     c.offlineRefused.Load(),
		Settled:            c.settled.Load(),
		Sent:               c.sent.Load(),
		Resends:            c.resends.Load(),
		QueueErrors:        c.queueErrors.Load(),
		CorruptQueued:      c.corruptQueued.Load(),
	}
	if a.st != nil {
		s.QueueDepth = a.st.q.Len()
	}
	return s
}
