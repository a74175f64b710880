package queue

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// recover rebuilds the queue from its directory. Damage is recorded, never
// returned: only I/O failures are errors.
func (q *Queue) recover() error {
	des, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	var bases []uint64
	for _, de := range des {
		name := de.Name()
		if name == ackTmpName {
			// A rewrite of the ack log that never got renamed into place.
			if err := os.Remove(filepath.Join(q.dir, name)); err != nil {
				return fmt.Errorf("queue: %w", err)
			}
			continue
		}
		if base, ok := parseSegName(name); ok && de.Type().IsRegular() {
			bases = append(bases, base)
		}
	}
	slices.Sort(bases)

	acks, created, err := q.openAckLog()
	if err != nil {
		return err
	}
	var lastSeq uint64
	for _, base := range bases {
		s, err := q.loadSegment(base, &acks, &lastSeq)
		if err != nil {
			return err
		}
		q.segs = append(q.segs, s)
		q.diskBytes += s.size
	}
	if created && len(q.ids) > 0 {
		q.stats.AckLogMissing = true
		q.damage = append(q.damage, &DamageError{File: q.ackFile.Name(), Err: ErrCorrupt,
			Effect: "ack log missing: every record found will be sent again (the cloud drops repeats by event id)"})
	}

	// Seqs start at 1 so that 0 can mean "before everything", and go on
	// from the last record found, or the last segment's name if that is
	// higher, so that new segments sort after the old.
	q.nextSeq = max(1, lastSeq+1)
	if n := len(bases); n > 0 {
		q.nextSeq = max(q.nextSeq, bases[n-1]+1)
	}
	q.installedNext = q.nextSeq
	// An ack log naming seqs from here on (records lost to damage, or a
	// log that is not this queue's) would swallow the new records that get
	// those seqs. Rewrite it from what is here before appending anything.
	if acks.watermark > q.nextSeq || len(acks.acked) > 0 && acks.maxAcked >= q.nextSeq {
		w, acked := q.ackState()
		if err := q.rewriteAckLog(w, acked); err != nil {
			return fmt.Errorf("queue: rewrite ack log: %w", err)
		}
	}

	if len(q.segs) == 0 {
		s, err := q.createSegment(q.nextSeq)
		if err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		q.segs = append(q.segs, s)
	}
	q.wOff = q.segs[len(q.segs)-1].size
	return q.compact()
}

// openAckLog opens the ack log, creating it if missing, reads it and cuts off
// a partial entry at its end.
func (q *Queue) openAckLog() (l ackLog, created bool, err error) {
	path := filepath.Join(q.dir, ackName)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		created = true
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			err = syncDir(q.dir)
		}
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return l, false, fmt.Errorf("queue: %w", err)
	}
	q.ackFile = f
	b, err := io.ReadAll(f)
	if err != nil {
		return l, false, fmt.Errorf("queue: read %s: %w", path, err)
	}
	l = parseAckLog(b)
	for _, off := range l.corrupt {
		q.stats.CorruptAcks++
		q.damage = append(q.damage, &DamageError{File: path, Offset: off, Length: ackEntrySize, Err: ErrCorrupt,
			Effect: "ack entry skipped: the record it acknowledged will be sent again (the cloud drops repeats by event id)"})
	}
	if torn := int64(len(b)) - l.valid; torn > 0 {
		if err := truncateSync(f, l.valid); err != nil {
			return l, false, fmt.Errorf("queue: %w", err)
		}
		q.stats.TornAcks++
		q.damage = append(q.damage, &DamageError{File: path, Offset: l.valid, Length: torn, Err: ErrTorn,
			Effect: "partial ack entry cut off: the Ack writing it had not returned; its record will be sent again"})
	}
	q.ackOff = l.valid
	q.ackEntries = l.entries + len(l.corrupt)
	return l, created, nil
}

// loadSegment reads one segment file. A damaged stretch followed by an
// intact record is skipped; one that runs to the end of the file is a torn
// write and is cut off, so appends continue after the last intact record.
func (q *Queue) loadSegment(base uint64, acks *ackLog, lastSeq *uint64) (*segment, error) {
	path := filepath.Join(q.dir, segName(base))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	b, err := readAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("queue: read %s: %w", path, err)
	}
	s := &segment{base: base, path: path, f: f, size: int64(len(b))}
	for off := 0; off < len(b); {
		r, ok := parseRecord(b[off:])
		if ok && r.seq > *lastSeq {
			q.addRecovered(s, r, off, acks)
			*lastSeq = r.seq
			off += r.size
			continue
		}
		if ok {
			// Intact, but this package never writes seqs out of order: the
			// file was copied or edited by hand. Sending it would break the
			// order every other record keeps.
			q.stats.CorruptRecords++
			q.stats.CorruptBytes += int64(r.size)
			q.damage = append(q.damage, &DamageError{File: path, Offset: int64(off), Length: int64(r.size), Err: ErrCorrupt,
				Effect: fmt.Sprintf("record %q has seq %d, not above %d; skipped", r.id, r.seq, *lastSeq)})
			off += r.size
			continue
		}
		next := nextRecord(b, off+1)
		if next < 0 {
			if err := truncateSync(f, int64(off)); err != nil {
				f.Close()
				return nil, fmt.Errorf("queue: %w", err)
			}
			s.size = int64(off)
			q.stats.TornRecords++
			q.stats.TornBytes += int64(len(b) - off)
			q.damage = append(q.damage, &DamageError{File: path, Offset: int64(off), Length: int64(len(b) - off), Err: ErrTorn,
				Effect: "cut off: a write the power cut short (its Append never returned), or damage to the last record"})
			break
		}
		q.stats.CorruptRecords++
		q.stats.CorruptBytes += int64(next - off)
		q.damage = append(q.damage, &DamageError{File: path, Offset: int64(off), Length: int64(next - off), Err: ErrCorrupt,
			Effect: "failed its checksum; skipped, the records after it are kept"})
		off = next
	}
	for s.head < len(s.entries) && s.entries[s.head].acked {
		s.head++
	}
	return s, nil
}

// addRecovered puts an intact record found by Open into the queue.
func (q *Queue) addRecovered(s *segment, r rawRecord, off int, acks *ackLog) {
	id := string(r.id)
	if _, dup := q.ids[id]; dup {
		// Only possible if the first copy's segment was compacted away
		// while it was acknowledged and the id appended again, and the
		// deletion was lost in a crash. The first copy stands.
		q.stats.Duplicates++
		return
	}
	e := &entry{seq: r.seq, id: id, seg: s, off: int64(off), size: int32(r.size), acked: acks.isAcked(r.seq)}
	s.entries = append(s.entries, e)
	q.ids[id] = e
	if !e.acked {
		s.pending++
		q.pending++
	}
}

// readAll reads a whole file into a buffer of its size, read in one go.
func readAll(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, fi.Size())
	n, err := io.ReadFull(f, b)
	if err == io.ErrUnexpectedEOF { // shrank meanwhile; nobody else writes it
		err = nil
	}
	return b[:n], err
}

func truncateSync(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	return syncData(f)
}
