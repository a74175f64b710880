package queue

import (
	"encoding/binary"
	"hash/crc32"
)

// The ack log is a sequence of fixed-size entries, so a damaged entry can be
// skipped without losing the ones after it.
const (
	ackEntrySize = 12
	// watermarkFlag marks an entry that acknowledges every seq below it.
	// Seqs never come near 2^63.
	watermarkFlag = 1 << 63
)

func appendAck(dst []byte, v uint64) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, v)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[len(dst)-8:], castagnoli))
}

// ackLog is what an ack log file says.
type ackLog struct {
	watermark uint64              // every seq below it is acknowledged
	acked     map[uint64]struct{} // and these
	maxAcked  uint64              // highest seq in acked
	entries   int                 // intact entries
	corrupt   []int64             // offsets of entries that failed their checksum
	valid     int64               // length of whole entries; bytes after it are torn
}

func (l *ackLog) isAcked(seq uint64) bool {
	if seq < l.watermark {
		return true
	}
	_, ok := l.acked[seq]
	return ok
}

// parseAckLog reads an ack log. It never fails: damaged entries are listed in
// corrupt and a partial entry at the end is left out of valid.
func parseAckLog(b []byte) ackLog {
	l := ackLog{acked: make(map[uint64]struct{})}
	n := len(b) / ackEntrySize * ackEntrySize
	l.valid = int64(n)
	for off := 0; off < n; off += ackEntrySize {
		e := b[off : off+ackEntrySize]
		v := binary.LittleEndian.Uint64(e[:8])
		wm := v&watermarkFlag != 0
		v &^= watermarkFlag
		if crc32.Checksum(e[:8], castagnoli) != binary.LittleEndian.Uint32(e[8:]) || v >= seqLimit {
			l.corrupt = append(l.corrupt, int64(off))
			continue
		}
		l.entries++
		if wm {
			l.watermark = max(l.watermark, v)
		} else {
			l.acked[v] = struct{}{}
			l.maxAcked = max(l.maxAcked, v)
		}
	}
	return l
}
