package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/turnstile-agent/queue"
)

// station is what an agent with a state directory adds to one without: the
// durable queue every tap goes through (outbox.go), the offline decisions
// (offline.go) and what they need, kept across restarts.
//
// The state directory holds:
//
//	queue/        the queue of taps (turnstile-agent/queue)
//	config.json   the config in force: the newest pushed, with the newest
//	              deny list and (rail gates) ticket list (a proto.Config)
//	entries.log   the record of recent entries through this gate and of the
//	              tickets they used (entries.go)
//
// and whatever the binary keeps beside them (the JWKS).
type station struct {
	q       *queue.Queue
	entries *entryLog

	// Event ids of queued taps whose decision has not come back. Guarded by
	// Agent.mu, like pending: a tap waiting for its decision is in both.
	undecided map[string]struct{}

	linkUp atomic.Bool // the MQTT session is up and set up
	// responsive is cleared when a tap waited in vain for the cloud and set
	// by every decision that comes back: while it is clear, taps are
	// decided offline at once instead of making each rider wait.
	responsive   atomic.Bool
	lastDecision atomic.Int64 // unix nanoseconds of the last decision received
	clockOffset  atomic.Int64 // cloud clock minus ours, milliseconds
	clockKnown   atomic.Bool

	// What the cloud pushed; guarded by Agent.configMu.
	policy    proto.OfflinePolicy
	denyList  *proto.DenyList
	deny      map[string]struct{}
	tickets   *proto.TicketList             // a rail gate's, for offline decisions
	ticketsBy map[string][]proto.GateTicket // tickets by subject, earliest departure first
	heartbeat time.Duration
	drainRate int
	issuedAt  proto.Time // of the config in force

	// offlineMu makes each offline decision and its record one step, so two
	// taps of one rider cannot both pass a limit.
	offlineMu sync.Mutex

	win  window
	acks ackBuffer

	kick      chan struct{} // room for one: the link came up, or the drain must start again
	genMu     sync.Mutex
	genCancel context.CancelFunc // ends the drain in progress; guarded by genMu

	quit chan struct{} // closed by Close
	bg   sync.WaitGroup
}

// File names in the state directory.
const (
	queueDirName   = "queue"
	configFileName = "config.json"
	entriesName    = "entries.log"
)

// openStation opens the state directory, recovers what a crash left and
// starts the background work: the drain, the acknowledgements and the
// heartbeat.
func (a *Agent) openStation() error {
	dir := a.cfg.Dir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("agent: state: %w", err)
	}
	q, err := queue.Open(filepath.Join(dir, queueDirName), queue.Options{MaxBytes: a.cfg.QueueMaxBytes})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if derr := q.Damage(); derr != nil {
		// Dealt with by the queue: torn tails cut, damaged records skipped.
		a.log.Error("queue: damage found on disk and skipped", "error", derr)
	}
	st := &station{
		q:         q,
		undecided: make(map[string]struct{}),
		policy:    *a.cfg.Offline,
		heartbeat: a.cfg.Heartbeat,
		drainRate: a.cfg.DrainRate,
		kick:      make(chan struct{}, 1),
		quit:      make(chan struct{}),
		win:       window{sent: make(map[string]time.Time), free: make(chan struct{}, 1)},
		acks:      ackBuffer{ready: make(chan struct{}, 1)},
	}
	st.responsive.Store(true)
	entries, bad, err := openEntryLog(filepath.Join(dir, entriesName), a.cfg.Now())
	if err != nil {
		q.Close()
		return fmt.Errorf("agent: %w", err)
	}
	if bad > 0 {
		a.log.Error("entries log: damaged lines skipped", "lines", bad)
	}
	st.entries = entries
	a.st = st
	a.loadConfig()
	if err := a.loadQueued(); err != nil {
		entries.Close()
		q.Close()
		a.st = nil
		return err
	}
	st.bg.Add(3)
	go func() { defer st.bg.Done(); a.runDrain() }()
	go func() { defer st.bg.Done(); a.runAcks() }()
	go func() { defer st.bg.Done(); a.runHeartbeat() }()
	return nil
}

// loadQueued reads the taps a previous run left in the queue: each is owed
// a decision. A record that is not one of this gate's taps is reported and
// dropped from the queue: the cloud would never answer it.
func (a *Agent) loadQueued() error {
	var after uint64
	for {
		recs, err := a.st.q.Scan(after, 4096, 0)
		if err != nil {
			return fmt.Errorf("agent: read queue: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if a.checkQueued(r) {
				a.st.undecided[r.ID] = struct{}{}
			}
		}
		after = recs[len(recs)-1].Seq
	}
	if n := len(a.st.undecided); n > 0 {
		a.log.Info("queued taps from before the restart will be sent", "queue_depth", n)
	}
	return nil
}

// checkQueued reports whether r is a tap of this gate that can be sent. If
// not, it is reported, counted and acknowledged, so it is never sent: a
// corrupt entry is skipped, it never stops the gate.
func (a *Agent) checkQueued(r queue.Record) bool {
	t, err := proto.DecodeTap(r.Payload)
	switch {
	case err != nil:
	case t.EventID != r.ID:
		err = fmt.Errorf("event id %s under queue id %q", t.EventID, r.ID)
	case t.Device != a.cfg.Device || t.Site != a.cfg.Site:
		err = fmt.Errorf("tap of %s/%s in the queue of %s/%s", t.Site, t.Device, a.cfg.Site, a.cfg.Device)
	}
	if err == nil {
		return true
	}
	a.stats.corruptQueued.Add(1)
	a.log.Error("queue: entry is not a tap of this gate; reported and skipped", "seq", r.Seq, "bytes", len(r.Payload), "error", err)
	if aerr := a.st.q.Ack(r.ID); aerr != nil {
		a.log.Warn("queue: could not drop the bad entry; it will be skipped again", "seq", r.Seq, "error", aerr)
	}
	return false
}

// closeStation stops the background work, writes the acknowledgements still
// in memory and closes the files. The MQTT client is gone by then.
func (a *Agent) closeStation() {
	st := a.st
	close(st.quit)
	a.cancelDrain()
	st.bg.Wait()
	a.flushAcks()
	var errs []error
	errs = append(errs, st.entries.Close(), st.q.Close())
	if err := errors.Join(errs...); err != nil {
		a.log.Warn("state not closed cleanly", "error", err)
	}
}

// writeFileAtomic replaces path by data: a crash leaves the old file or the
// new one, never a mix.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	return err
}

// WriteFileAtomic is writeFileAtomic for the binary, which keeps the JWKS in
// the state directory.
func WriteFileAtomic(path string, data []byte) error { return writeFileAtomic(path, data) }
