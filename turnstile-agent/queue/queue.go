package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
)

// Options tune a Queue. The zero value is ready to use.
type Options struct {
	// MaxBytes bounds the queue's segment files on disk, acknowledged
	// records not yet compacted included. An Append that would pass it
	// fails with ErrFull, so a gate offline for days fails loudly instead
	// of filling its disk. Default 1 GiB.
	MaxBytes int64
	// SegmentBytes is the size at which the queue starts a new segment file.
	// Only whole segments are deleted, so up to one segment of acknowledged
	// records stays on disk. Default 8 MiB, or MaxBytes/4 if that is less.
	SegmentBytes int64
	// NoGroupCommit makes every Append write and fsync its record alone.
	// With group commit (the default) Appends that arrive while an fsync is
	// under way are written together and share the next one; a lone Append
	// never waits for company, so a quiet gate pays one fsync per tap and a
	// burst pays far fewer.
	NoGroupCommit bool
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxBytes < 0 || o.SegmentBytes < 0 {
		return o, fmt.Errorf("queue: negative size in options %+v", o)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 30
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = min(8<<20, max(o.MaxBytes/4, 4<<10))
	}
	return o, nil
}

// Stats describes a queue: its size now, counters since Open, and the damage
// Open found.
type Stats struct {
	Pending  int   // records not yet acknowledged (Len)
	Bytes    int64 // size of the segment files
	Segments int   // segment files

	Appended   uint64 // records written since Open
	Duplicates uint64 // Appends of an id already queued, and repeated ids found by Open
	Syncs      uint64 // fsyncs of segment files since Open; below Appended when group commit works
	Acked      uint64 // records acknowledged since Open
	Compacted  uint64 // segment files deleted since Open

	// Damage, found by Open or when a record failed its checksum on read.
	// Every instance is also described by Damage().
	TornRecords    int   // torn tails cut off segment files (at most one per file)
	TornBytes      int64 // bytes cut off
	CorruptRecords int   // damaged stretches skipped inside segment files; usually one record each
	CorruptBytes   int64 // bytes skipped
	CorruptAcks    int   // ack log entries that failed their checksum: those records may be sent again
	TornAcks       int   // partial entries cut off the ack log (an Ack cut short)
	AckLogMissing  bool  // segments but no ack log: every record in them may be sent again
}

// Queue is a durable FIFO of records on disk. It is safe for concurrent use.
type Queue struct {
	dir  string
	opts Options
	lock *os.File

	// Lock order: ackMu, then mu.
	ackMu   sync.Mutex // held while the ack log is written; owns the ack* fields
	mu      sync.Mutex // guards the rest
	flushed *sync.Cond // on mu: a batch is done

	wOff int64 // owned by the flusher: where the next record goes in the active segment

	ackFile    *os.File
	ackOff     int64 // bytes of whole entries in the ack log
	ackEntries int   // entries in the ack log
	ackCheckAt int   // entries at which to consider rewriting it
	ackMin     int   // entries below which it is never rewritten (ackRewriteMin; tests lower it)
	ackErr     error // the ack log is in an unknown state; reopen

	segs          []*segment // oldest first; the last is the one appended to
	ids           map[string]*entry
	inflight      map[string]*batch // ids in batches not yet durable
	cur           *batch            // where Appends put their records
	flushing      bool              // a batch is being written; its writer is the flusher
	nextSeq       uint64            // seq of the next Append
	installedNext uint64            // seq after the last durable record: seqs below it are in segs or lost
	pending       int
	diskBytes     int64         // size of the segment files
	writing       int64         // bytes of the batch being written
	changed       chan struct{} // closed when records are added or the queue closes
	closed        bool
	err           error // a write failed: the segment's tail is unknown; reopen
	stats         Stats
	damage        []error
}

type segment struct {
	base    uint64 // in the file name; at or below every seq in the file
	path    string
	f       *os.File
	size    int64
	entries []*entry // in seq order
	head    int      // entries before it are acknowledged
	pending int
}

type entry struct {
	seq   uint64
	id    string
	seg   *segment
	off   int64
	size  int32
	acked bool
}

// batch is the records of Appends that share one write and one fsync.
type batch struct {
	buf  []byte
	recs []batchRec
	done bool
	err  error
}

type batchRec struct {
	seq  uint64
	id   string
	size int
}

const (
	ackName    = "acks.log"
	ackTmpName = "acks.tmp"
	lockName   = "LOCK"
	// ackRewriteMin is the ack log length (entries) below which it is never
	// rewritten: 48 KiB.
	ackRewriteMin = 4096
)

func segName(base uint64) string { return fmt.Sprintf("seg-%016x.log", base) }

func parseSegName(name string) (uint64, bool) {
	if len(name) != len("seg-0123456789abcdef.log") {
		return 0, false
	}
	base, err := strconv.ParseUint(name[4:20], 16, 64)
	if err != nil || base >= seqLimit || segName(base) != name {
		return 0, false
	}
	return base, true
}

// Open opens the queue in dir, creating dir if needed, and recovers it: torn
// tails are cut off, damaged records skipped, acknowledged records dropped
// and fully acknowledged segments deleted. Damage is reported through
// Damage and Stats, not as an error: Open fails only when the files cannot
// be read or written at all, or when another Queue has dir open (ErrLocked).
func Open(dir string, opts Options) (*Queue, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, fmt.Errorf("queue: lock %s: %w", dir, err)
	}
	q := &Queue{
		dir:        dir,
		opts:       opts,
		lock:       lock,
		ids:        make(map[string]*entry),
		inflight:   make(map[string]*batch),
		cur:        &batch{},
		changed:    make(chan struct{}),
		ackCheckAt: ackRewriteMin,
		ackMin:     ackRewriteMin,
	}
	q.flushed = sync.NewCond(&q.mu)
	if err := q.recover(); err != nil {
		q.closeFiles()
		return nil, err
	}
	return q, nil
}

// Append adds a record and returns once it is durable. An id already in the
// queue (pending, or acknowledged but not yet compacted) is not stored again
// and its first payload stands: a writer that crashed between Append and its
// own bookkeeping can simply append again.
//
// After a failed write the queue refuses further Appends with that error
// until it is closed and opened again, since the tail of the segment file is
// then unknown; Open sorts it out.
func (q *Queue) Append(id string, payload []byte) error {
	if len(id) == 0 || len(id) > MaxID {
		return ErrBadID
	}
	if len(payload) > MaxPayload {
		return ErrTooLarge
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.opts.NoGroupCommit {
		// Wait for the writer before us, then write alone.
		for q.flushing {
			q.flushed.Wait()
		}
	}
	switch {
	case q.closed:
		return ErrClosed
	case q.err != nil:
		return q.err
	}
	if _, ok := q.ids[id]; ok {
		q.stats.Duplicates++
		return nil
	}
	if b, ok := q.inflight[id]; ok {
		// The same id, concurrently: share the first Append's outcome.
		q.stats.Duplicates++
		return q.waitLocked(b)
	}
	size := recordSize(id, payload)
	if used := q.diskBytes + q.writing + int64(len(q.cur.buf)); used+int64(size) > q.opts.MaxBytes {
		return fmt.Errorf("%w: %d bytes queued on disk, limit %d; is the uplink down?", ErrFull, used, q.opts.MaxBytes)
	}
	if q.nextSeq >= seqLimit { // only after a hand edit: see seqLimit
		return fmt.Errorf("queue: seqs exhausted at %d; move the queue directory aside", q.nextSeq)
	}
	seq := q.nextSeq
	q.nextSeq++
	b := q.cur
	b.buf = appendRecord(b.buf, seq, id, payload)
	b.recs = append(b.recs, batchRec{seq: seq, id: id, size: size})
	q.inflight[id] = b
	return q.waitLocked(b)
}

// waitLocked returns once batch b is durable or has failed. mu is held.
//
// This is the whole of group commit. While one Append writes and fsyncs a
// batch, the Appends that arrive add their records to the next batch and
// wait; when the write is done, the first of them to wake writes that whole
// batch with one fsync, and the rest find theirs done. Nobody waits for
// company, so a lone Append costs one fsync and no delay.
func (q *Queue) waitLocked(b *batch) error {
	for !b.done {
		if q.flushing {
			q.flushed.Wait()
			continue
		}
		// Batches are written in order, so a batch not done while nobody
		// writes is still q.cur.
		q.flushLocked()
	}
	return b.err
}

// flushLocked writes the current batch and makes it durable, releasing mu
// for the write. mu is held and nobody is flushing.
func (q *Queue) flushLocked() {
	b := q.cur
	q.cur = &batch{}
	if len(b.recs) == 0 {
		b.done = true
		return
	}
	q.flushing = true
	q.writing = int64(len(b.buf))
	closed, broken := q.closed, q.err
	active := q.segs[len(q.segs)-1]
	q.mu.Unlock()

	var (
		w   write
		err error
	)
	switch {
	case closed:
		err = ErrClosed
	case broken != nil:
		err = broken
	default:
		w, err = q.write(b, active)
	}

	q.mu.Lock()
	q.flushing = false
	q.writing = 0
	for _, r := range b.recs {
		delete(q.inflight, r.id)
	}
	if err == nil {
		q.install(b, w)
	} else if !closed && q.err == nil {
		q.err = fmt.Errorf("queue: write failed; close and reopen to recover: %w", err)
		err = q.err
	}
	b.done, b.err = true, err
	q.flushed.Broadcast()
}

// write is where a batch went.
type write struct {
	segs   []*segment // segment of each record
	offs   []int64    // offset of each record
	newSeg []*segment // segments started for this batch, not yet in q.segs
	syncs  int
}

// write puts a batch's records at the end of the active segment, starting
// new segments as they fill, and makes them durable. It runs in the flusher
// without mu; the
// new segments become visible only in install, so nothing can compact a
// segment while records are being written to it.
func (q *Queue) write(b *batch, active *segment) (write, error) {
	w := write{segs: make([]*segment, len(b.recs)), offs: make([]int64, len(b.recs))}
	seg, off := active, q.wOff
	chunk, chunkOff := 0, off // start of the bytes not yet written to seg
	pos := 0
	for i, r := range b.recs {
		if off > 0 && off+int64(r.size) > q.opts.SegmentBytes {
			if pos > chunk { // else the full segment was made durable by an earlier batch
				if err := writeSync(seg.f, b.buf[chunk:pos], chunkOff); err != nil {
					return w, q.abandon(w, err)
				}
				w.syncs++
			}
			next, err := q.createSegment(r.seq)
			if err != nil {
				return w, q.abandon(w, err)
			}
			w.newSeg = append(w.newSeg, next)
			seg, off, chunk, chunkOff = next, 0, pos, 0
		}
		w.segs[i], w.offs[i] = seg, off
		off += int64(r.size)
		pos += r.size
	}
	if err := writeSync(seg.f, b.buf[chunk:], chunkOff); err != nil {
		return w, q.abandon(w, err)
	}
	w.syncs++
	q.wOff = off
	return w, nil
}

// abandon closes segments started by a failed write. They stay on disk,
// where the next Open finds whatever reached them.
func (q *Queue) abandon(w write, err error) error {
	for _, s := range w.newSeg {
		s.f.Close()
	}
	return err
}

func writeSync(f *os.File, b []byte, off int64) error {
	if len(b) > 0 {
		if _, err := f.WriteAt(b, off); err != nil {
			return err
		}
	}
	return syncData(f)
}

// createSegment creates an empty segment file and makes its name durable.
func (q *Queue) createSegment(base uint64) (*segment, error) {
	path := filepath.Join(q.dir, segName(base))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syncDir(q.dir); err != nil {
		f.Close()
		return nil, err
	}
	return &segment{base: base, path: path, f: f}, nil
}

// install makes a durable batch visible. mu is held.
func (q *Queue) install(b *batch, w write) {
	q.segs = append(q.segs, w.newSeg...)
	for i, r := range b.recs {
		s := w.segs[i]
		e := &entry{seq: r.seq, id: r.id, seg: s, off: w.offs[i], size: int32(r.size)}
		s.entries = append(s.entries, e)
		s.pending++
		s.size = e.off + int64(r.size)
		q.ids[r.id] = e
		q.installedNext = r.seq + 1
	}
	q.pending += len(b.recs)
	q.diskBytes += int64(len(b.buf))
	q.stats.Appended += uint64(len(b.recs))
	q.stats.Syncs += uint64(w.syncs)
	q.notify()
}

// notify wakes Drains waiting for records. mu is held.
func (q *Queue) notify() {
	close(q.changed)
	if !q.closed {
		q.changed = make(chan struct{})
	}
}

// Peek returns the oldest n records not yet acknowledged, oldest first.
func (q *Queue) Peek(n int) ([]Record, error) {
	if n <= 0 {
		return nil, nil
	}
	return q.Scan(0, n, 0)
}

// Scan returns records not yet acknowledged whose Seq is above after, oldest
// first: at most max records (no limit if max <= 0) and, past the first
// record, at most maxBytes bytes of payload (no limit if maxBytes <= 0). A
// sender that keeps the last Seq it sent as a cursor reads each record once;
// one that starts again from 0 re-reads everything still unacknowledged.
//
// A record that fails its checksum here (the disk changed under the queue)
// is reported through Damage and Stats and skipped, never returned.
func (q *Queue) Scan(after uint64, max, maxBytes int) ([]Record, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	for {
		es := q.collect(after, max, maxBytes)
		if len(es) == 0 {
			return nil, nil
		}
		recs, err := q.read(es)
		if err != nil || len(recs) > 0 {
			return recs, err
		}
		// Every record read was damaged and is now dropped; look further.
	}
}

// collect picks the entries Scan returns. mu is held.
func (q *Queue) collect(after uint64, max, maxBytes int) []*entry {
	var (
		es    []*entry
		bytes int
	)
	for _, s := range q.segs {
		if s.pending == 0 || s.entries[len(s.entries)-1].seq <= after {
			continue
		}
		i := s.head + sort.Search(len(s.entries)-s.head, func(i int) bool { return s.entries[s.head+i].seq > after })
		for ; i < len(s.entries); i++ {
			e := s.entries[i]
			if e.acked {
				continue
			}
			payload := int(e.size) - headerSize - len(e.id)
			if len(es) > 0 && maxBytes > 0 && bytes+payload > maxBytes {
				return es
			}
			es = append(es, e)
			bytes += payload
			if max > 0 && len(es) == max {
				return es
			}
		}
	}
	return es
}

// read loads the records of es, one read per run of adjacent records, and
// checks each. mu is held, so no segment is closed under it.
func (q *Queue) read(es []*entry) ([]Record, error) {
	recs := make([]Record, 0, len(es))
	for i := 0; i < len(es); {
		j := i + 1
		end := es[i].off + int64(es[i].size)
		for j < len(es) && es[j].seg == es[i].seg && es[j].off == end {
			end += int64(es[j].size)
			j++
		}
		buf := make([]byte, end-es[i].off)
		if _, err := es[i].seg.f.ReadAt(buf, es[i].off); err != nil {
			return nil, fmt.Errorf("queue: read %s: %w", es[i].seg.path, err)
		}
		for _, e := range es[i:j] {
			b := buf[e.off-es[i].off:][:e.size]
			r, ok := parseRecord(b)
			if !ok || r.seq != e.seq || string(r.id) != e.id {
				q.dropDamaged(e)
				continue
			}
			recs = append(recs, Record{Seq: e.seq, ID: e.id, Payload: r.payload[:len(r.payload):len(r.payload)]})
		}
		i = j
	}
	return recs, nil
}

// dropDamaged takes out of the queue a record that no longer reads back as
// written. It is not written to the ack log: the next Open checks it again.
// mu is held.
func (q *Queue) dropDamaged(e *entry) {
	q.markAcked(e)
	q.stats.CorruptRecords++
	q.stats.CorruptBytes += int64(e.size)
	q.damage = append(q.damage, &DamageError{File: e.seg.path, Offset: e.off, Length: int64(e.size), Err: ErrCorrupt,
		Effect: fmt.Sprintf("record %q (seq %d) failed its checksum on read and is skipped", e.id, e.seq)})
}

// markAcked takes e out of the pending records. mu is held.
func (q *Queue) markAcked(e *entry) {
	if e.acked {
		return
	}
	e.acked = true
	s := e.seg
	s.pending--
	q.pending--
	for s.head < len(s.entries) && s.entries[s.head].acked {
		s.head++
	}
}

// Ack marks records acknowledged, durably, so they are neither returned
// again nor sent again after a restart. Ids may come in any order; ids not in
// the queue (never appended, already acknowledged, or compacted away) are
// ignored, so acknowledging twice is harmless. Segments left with nothing to
// send are deleted.
func (q *Queue) Ack(ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	q.ackMu.Lock()
	defer q.ackMu.Unlock()

	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	var (
		es  []*entry
		buf []byte
	)
	for _, id := range ids {
		if e, ok := q.ids[id]; ok && !e.acked {
			es = append(es, e)
			buf = appendAck(buf, e.seq)
		}
	}
	q.mu.Unlock()
	if len(es) == 0 {
		return nil
	}
	if q.ackErr != nil {
		return q.ackErr
	}
	if err := writeSync(q.ackFile, buf, q.ackOff); err != nil {
		// Cut off whatever part reached the file so that the next entry is
		// written where it belongs; the records stay pending.
		if terr := q.ackFile.Truncate(q.ackOff); terr != nil {
			q.ackErr = fmt.Errorf("queue: ack log in unknown state; close and reopen to recover: %w", errors.Join(err, terr))
		}
		return fmt.Errorf("queue: write ack log: %w", err)
	}
	q.ackOff += int64(len(buf))
	q.ackEntries += len(es)

	q.mu.Lock()
	for _, e := range es {
		if !e.acked {
			q.stats.Acked++
		}
		q.markAcked(e)
	}
	q.mu.Unlock()
	return q.compact()
}

// compact deletes segments with nothing left to send, except the one being
// appended to, and rewrites the ack log once most of its entries are about
// records gone or below the head. ackMu is held.
func (q *Queue) compact() error {
	q.mu.Lock()
	var dead []*segment
	keep := make([]*segment, 0, len(q.segs))
	active := q.segs[len(q.segs)-1]
	for _, s := range q.segs {
		if s == active || s.pending > 0 {
			keep = append(keep, s)
			continue
		}
		dead = append(dead, s)
		for _, e := range s.entries {
			if q.ids[e.id] == e {
				delete(q.ids, e.id)
			}
		}
		q.diskBytes -= s.size
		q.stats.Compacted++
	}
	q.segs = keep

	var (
		rewrite   bool
		watermark uint64
		acked     []uint64
	)
	if q.ackEntries >= q.ackCheckAt {
		watermark, acked = q.ackState()
		rewrite = 2*(1+len(acked)) <= q.ackEntries
		if !rewrite {
			q.ackCheckAt = 2 * q.ackEntries
		}
	}
	q.mu.Unlock()

	var errs []error
	for _, s := range dead {
		s.f.Close()
		if err := os.Remove(s.path); err != nil {
			errs = append(errs, err)
		}
	}
	if len(dead) > 0 {
		if err := syncDir(q.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if rewrite {
		if err := q.rewriteAckLog(watermark, acked); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("queue: compact: %w", err)
	}
	return nil
}

// ackState is what the ack log must say: every seq below the watermark is
// acknowledged, and so are the listed ones above it. mu is held.
func (q *Queue) ackState() (watermark uint64, acked []uint64) {
	// Records not yet durable have seqs at or above installedNext, so a
	// watermark there can never swallow one.
	watermark = q.installedNext
	found := false
	for _, s := range q.segs {
		for _, e := range s.entries[s.head:] {
			if !found {
				if e.acked {
					continue
				}
				watermark, found = e.seq, true
				continue
			}
			if e.acked {
				acked = append(acked, e.seq)
			}
		}
	}
	return watermark, acked
}

// rewriteAckLog replaces the ack log by a short one saying the same. A crash
// leaves either the old file or the new one; both are right. ackMu is held.
func (q *Queue) rewriteAckLog(watermark uint64, acked []uint64) error {
	buf := appendAck(make([]byte, 0, ackEntrySize*(1+len(acked))), watermark|watermarkFlag)
	for _, s := range acked {
		buf = appendAck(buf, s)
	}
	tmp := filepath.Join(q.dir, ackTmpName)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := writeSync(f, buf, 0); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(q.dir, ackName)); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	// From here the open file is the ack log, whether or not the directory
	// sync below succeeds.
	q.ackFile.Close()
	q.ackFile = f
	q.ackOff = int64(len(buf))
	q.ackEntries = 1 + len(acked)
	q.ackCheckAt = max(q.ackMin, 2*q.ackEntries)
	return syncDir(q.dir)
}

// Len returns the number of records not yet acknowledged.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

// Stats returns the queue's size, counters and the damage found.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Pending = q.pending
	s.Bytes = q.diskBytes
	s.Segments = len(q.segs)
	return s
}

// Damage describes every torn or corrupt stretch of bytes found since Open,
// as *DamageError values joined into one error, or returns nil if there was
// none. errors.Is(err, ErrTorn) and errors.Is(err, ErrCorrupt) tell the
// kinds apart. Log it once after Open: the queue has already dealt with it.
// Damage inside a segment file is found again by every Open until the
// segment is compacted.
func (q *Queue) Damage() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return errors.Join(q.damage...)
}

// Close writes any records still waiting for a write, then closes the files.
// Calls after Close return ErrClosed; Close itself may be called again.
func (q *Queue) Close() error {
	q.ackMu.Lock() // no Ack under way
	defer q.ackMu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.flushing {
		q.flushed.Wait()
	}
	if q.closed {
		return nil
	}
	b := q.cur
	err := q.waitLocked(b)
	for q.flushing { // another Append may have become the flusher meanwhile
		q.flushed.Wait()
	}
	q.closed = true
	q.notify()
	q.flushed.Broadcast()
	return errors.Join(err, q.closeFiles())
}

// closeFiles closes every file the queue holds, releasing the lock last.
func (q *Queue) closeFiles() error {
	var errs []error
	for _, s := range q.segs {
		errs = append(errs, s.f.Close())
	}
	if q.ackFile != nil {
		errs = append(errs, q.ackFile.Close())
	}
	errs = append(errs, q.lock.Close())
	return errors.Join(errs...)
}

// syncDir makes the names in dir durable: created, renamed or removed files.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
