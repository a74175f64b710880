// Package queue is the gate agent's durable outbox: a FIFO of opaque records
// (encoded taps, keyed by event id) on local disk. Every tap goes in before
// anything else happens to it and leaves only when the cloud has
// acknowledged it, so a crash, a power cut or a week without network loses
// nothing the queue accepted.
//
// # Use
//
//	q, err := queue.Open(dir, queue.Options{})
//	if err := q.Damage(); err != nil { log it once: the queue has dealt with it }
//	err = q.Append(tap.EventID, payload) // durable when it returns
//	go q.Drain(ctx, queue.DrainOptions{Rate: 200}, publish) // in order, paced
//	q.Ack(eventID)                        // when the cloud confirms
//
// Delivery is at least once, never at most once: a record may be sent again
// (after a restart, a new Drain, or damage to the ack log), always with the
// same id, and the cloud drops repeats by event id. Nothing here ever
// trades a possible loss for avoiding a repeat.
//
// # Files
//
// A queue directory holds:
//
//	LOCK                flock'ed by the Queue that has the directory open
//	seg-<16 hex>.log    segment files, read in name order; the hex is a seq
//	                    at or below that of every record in the file
//	acks.log            the ack log
//	acks.tmp            a rewrite of the ack log in progress; Open deletes it
//
// A segment file is records back to back, appended and never changed. When
// the next record would take it past Options.SegmentBytes a new segment is
// started. A record, integers little-endian:
//
//	offset  size  field
//	0       4     magic "VQR\x01"
//	4       4     CRC-32C (Castagnoli) of bytes 8 to the end of the record
//	8       8     seq: unique and increasing within the directory, from 1
//	16      4     payload length n, at most MaxPayload (16 KiB)
//	20      1     id length k, 1 to MaxID (255)
//	21      k     id
//	21+k    n     payload
//
// The ack log is 12-byte entries: a uint64 and the CRC-32C of its 8 bytes.
// The value is the seq of an acknowledged record, or, with the top bit set,
// a watermark: every seq below it is acknowledged. Ack appends one entry per
// record. When most entries are about records gone or below the oldest
// pending one, the log is rewritten (to acks.tmp, then renamed) as one
// watermark at the oldest pending record plus the acknowledged records
// above it; a crash leaves the old log or the new one, and both are right.
// Seqs are never reused, so an entry can never acknowledge the wrong record;
// Open rewrites a log that names seqs beyond the last record it found.
//
// Appends are fsynced (fdatasync on Linux) before Append returns; a new
// segment's name is made durable with an fsync of the directory before any
// record in it is reported durable. Ack fsyncs the ack log before it
// returns. A segment in which every record is acknowledged is deleted,
// except the one being appended to, so a queue with nothing pending holds
// at most one segment.
//
// # Recovery
//
// Open reads every segment and the ack log, and deals with what a crash or
// a failing disk leaves behind, reporting each case in Stats and as a
// *DamageError in Damage, never by failing or panicking:
//
//   - A torn tail: bytes at the end of a segment that are not a whole intact
//     record, as a power cut during a write leaves them. They are cut off,
//     and new records go after the last intact one. Such a record's Append
//     never returned, so no writer was told it was safe. Damage to the last
//     record of a segment cannot be told apart from this and is treated the
//     same way.
//   - A corrupt record: bytes that fail their checksum with an intact record
//     after them. They are skipped and left in place (and reported again by
//     every Open until the segment is compacted); the records after them are
//     found by looking for the next magic whose record checks out, so a
//     damaged length field costs only that record.
//   - A missing, corrupt or torn ack log, or a damaged entry in it: the
//     records it would have acknowledged are sent again. That is the
//     deliberate trade-off: acknowledgements are the one thing the queue can
//     afford to lose, because losing one costs a repeat the cloud drops by
//     event id, while trusting a damaged one could lose a tap.
//
// A record that fails its checksum when Scan reads it (the disk changed
// under a running queue) is reported the same way and skipped.
//
// Append is idempotent by id: appending an id the queue still holds,
// pending or acknowledged but not yet compacted, stores nothing and keeps the
// first payload. An agent that crashed between Append and its own
// bookkeeping can append again. Once an acknowledged record's segment is
// deleted its id is forgotten, and appending it again queues it again: the
// cloud, having acknowledged it, drops the repeat.
//
// # Memory and limits
//
// The queue keeps an index in memory, not the payloads: about 100 bytes per
// record plus its id (108 bytes measured with 9-byte ids), so 100,000 taps
// with 36-byte event ids take about 14 MB, and a full default queue (1 GiB
// of 700-byte taps, 1.5 million records) about 200 MB. Set Options.MaxBytes
// to what the device can hold: past it Append fails with ErrFull rather
// than filling the disk.
//
// Benchmarks and their figures are in README.md.
package queue
