package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// entryLog is the gate's own record of the entries it let through, online
// and offline, for the offline checks: a pass-back through this gate, and
// the offline entries a rider made today. It is a file of JSON lines,
// appended to, and rewritten at start with only the last keepEntries. A
// line that does not read back (a torn last line after a power cut) is
// skipped and counted.
type entryLog struct {
	path string
	mu   sync.Mutex
	f    *os.File
	by   map[string][]entryMark // by subject, oldest first
	n    int                    // marks in by
}

type entryMark struct {
	At      time.Time `json:"at"`
	Offline bool      `json:"off,omitempty"`
	// Ticket is the train ticket (proto.GateTicket.ID) a rail gate let
	// the rider through on, as far as the gate knows; 0 otherwise.
	Ticket int64 `json:"t,omitempty"`
}

type entryLine struct {
	Subject string `json:"s"`
	entryMark
}

// keepEntries covers a local day and any pass-back window, with margin.
const keepEntries = 48 * time.Hour

func openEntryLog(path string, now time.Time) (*entryLog, int, error) {
	l := &entryLog{path: path, by: make(map[string][]entryMark)}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("entries: %w", err)
	}
	bad := 0
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		var e entryLine
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Subject == "" || e.At.IsZero() {
			bad++
			continue
		}
		if now.Sub(e.At) > keepEntries {
			continue
		}
		l.put(e)
		keep.Write(sc.Bytes())
		keep.WriteByte('\n')
	}
	if sc.Err() != nil { // a line over 64 KiB: not ours
		bad++
	}
	if err := writeFileAtomic(path, keep.Bytes()); err != nil {
		return nil, 0, fmt.Errorf("entries: rewrite: %w", err)
	}
	if l.f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, 0, fmt.Errorf("entries: %w", err)
	}
	return l, bad, nil
}

func (l *entryLog) put(e entryLine) {
	l.by[e.Subject] = append(l.by[e.Subject], e.entryMark)
	l.n++
}

// add records an entry of subject at at, on ticket at a rail gate (0:
// none). An offline one is synced to disk before add returns: the day's
// offline limit and a ticket used offline must survive a crash. An online
// one is the cloud's to remember; losing it costs at most a missed
// pass-back check.
func (l *entryLog) add(subject string, at time.Time, offline bool, ticket int64) error {
	line, err := json.Marshal(entryLine{Subject: subject, entryMark: entryMark{At: at.UTC(), Offline: offline, Ticket: ticket}})
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.put(entryLine{Subject: subject, entryMark: entryMark{At: at, Offline: offline, Ticket: ticket}})
	if l.n > 4096 && l.n%1024 == 0 {
		l.prune(at)
	}
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("entries: %w", err)
	}
	if offline {
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("entries: %w", err)
		}
	}
	return nil
}

// prune forgets marks older than keepEntries (the file is pruned at the
// next start). mu is held.
func (l *entryLog) prune(now time.Time) {
	for s, ms := range l.by {
		i := 0
		for i < len(ms) && now.Sub(ms[i].At) > keepEntries {
			i++
		}
		l.n -= i
		if i == len(ms) {
			delete(l.by, s)
		} else if i > 0 {
			l.by[s] = append([]entryMark(nil), ms[i:]...)
		}
	}
}

// since returns when subject last entered through this gate at or after
// from, if it did.
func (l *entryLog) lastSince(subject string, from time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last time.Time
	for _, m := range l.by[subject] {
		if !m.At.Before(from) && m.At.After(last) {
			last = m.At
		}
	}
	return last, !last.IsZero()
}

// offlineIn counts subject's offline entries in [from, to).
func (l *entryLog) offlineIn(subject string, from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.by[subject] {
		if m.Offline && !m.At.Before(from) && m.At.Before(to) {
			n++
		}
	}
	return n
}

// ticketUsed reports whether subject entered through this gate on ticket.
func (l *entryLog) ticketUsed(subject string, ticket int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.by[subject] {
		if m.Ticket == ticket {
			return true
		}
	}
	return false
}

func (l *entryLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
