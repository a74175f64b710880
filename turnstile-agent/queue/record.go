package queue

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// Limits of one record. A record is one encoded tap: a few hundred bytes of
// JSON with its assertion, well under MaxPayload.
const (
	MaxPayload = 16 << 10 // bytes of payload in one record
	MaxID      = 255      // bytes of id in one record
)

// seqLimit bounds seqs: far beyond any real queue (a tap a millisecond
// for a hundred million years), and low enough that seq+1 never overflows
// nor reaches the ack log's watermark flag. Bytes claiming a seq at or above
// it are damage.
const seqLimit = 1 << 62

// headerSize is the fixed part of a record; see the package doc for the
// layout.
const headerSize = 21

// recordMagic starts every record. Its last byte, 0x01, never occurs raw in
// JSON (control characters must be escaped), so a JSON payload cannot hide
// a false record start from the resynchronising scan.
var recordMagic = [4]byte{'V', 'Q', 'R', 0x01}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record is one queued item.
type Record struct {
	// Seq orders records: it grows with every Append and is never reused
	// within a queue directory. Drain and Scan use it as a cursor.
	Seq     uint64
	ID      string
	Payload []byte
}

// recordSize is the number of bytes a record takes on disk.
func recordSize(id string, payload []byte) int {
	return headerSize + len(id) + len(payload)
}

// appendRecord appends the encoding of one record to dst.
func appendRecord(dst []byte, seq uint64, id string, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, recordMagic[:]...)
	dst = append(dst, 0, 0, 0, 0) // CRC, filled in below
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, byte(len(id)))
	dst = append(dst, id...)
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+8:], castagnoli))
	return dst
}

// rawRecord is a record as found in a byte slice; id and payload alias it.
type rawRecord struct {
	seq     uint64
	id      []byte
	payload []byte
	size    int
}

// parseRecord reads the record at the start of b. ok is false unless b starts
// with a complete record whose checksum matches.
func parseRecord(b []byte) (r rawRecord, ok bool) {
	if len(b) < headerSize || [4]byte(b[:4]) != recordMagic {
		return r, false
	}
	n := binary.LittleEndian.Uint32(b[16:20])
	k := int(b[20])
	if k == 0 || n > MaxPayload {
		return r, false
	}
	size := headerSize + k + int(n)
	if size > len(b) {
		return r, false
	}
	if crc32.Checksum(b[8:size], castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
		return r, false
	}
	seq := binary.LittleEndian.Uint64(b[8:16])
	if seq >= seqLimit {
		return r, false
	}
	return rawRecord{
		seq:     seq,
		id:      b[headerSize : headerSize+k],
		payload: b[headerSize+k : size],
		size:    size,
	}, true
}

// nextRecord returns the offset of the first intact record in b at or after
// from, or -1 if there is none. It is how recovery steps over a damaged
// record whose length field can no longer be trusted.
func nextRecord(b []byte, from int) int {
	for from < len(b) {
		i := bytes.Index(b[from:], recordMagic[:])
		if i < 0 {
			return -1
		}
		if _, ok := parseRecord(b[from+i:]); ok {
			return from + i
		}
		from += i + 1
	}
	return -1
}
