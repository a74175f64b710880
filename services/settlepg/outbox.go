package settlepg

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/vnpass/vnpass/ridership"
)

var _ ridership.Source = (*Store)(nil)

// The outbox to analytics is a cursor over transaction ids (migration 017):
// a row is exportable once the transaction that made it so (a tap's insert,
// a journey's close) is older than every transaction still running. Only one
// exporter per database reads it at a time (leadExport), so replicas do not
// all send the same rows; a second sending of a row is harmless anyway (the
// sink deduplicates), which is what a crash between a write and the cursor's
// advance does.

// exportLockID is the session advisory lock an exporter holds while it leads.
const exportLockID = 0x766e70617378

// leadExport reports whether this store leads the export: it holds the lock
// on a connection of its own, checked alive at every call. A leader that
// dies closes its connection, and with it the lock, so another takes over.
func (s *Store) leadExport(ctx context.Context) (bool, error) {
	s.leadMu.Lock()
	defer s.leadMu.Unlock()
	if s.leadConn != nil {
		if err := s.leadConn.Ping(ctx); err == nil {
			return true, nil
		}
		dropHeldLock(s.leadConn)
		s.leadConn = nil
	}
	c, err := s.tryHoldLock(ctx, exportLockID)
	if err != nil || c == nil {
		return false, err
	}
	s.leadConn = c
	return true, nil
}

// stopLeading gives the lock back (Close).
func (s *Store) stopLeading() {
	s.leadMu.Lock()
	defer s.leadMu.Unlock()
	dropHeldLock(s.leadConn)
	s.leadConn = nil
}

// PendingTaps returns taps after the export cursor, in cursor order; none
// when another replica leads the export.
func (s *Store) PendingTaps(ctx context.Context, limit int, pseudonym func(string) string) ([]ridership.Tap, error) {
	if lead, err := s.leadExport(ctx); err != nil || !lead {
		return nil, err
	}
	// The cursor is read first so that it is a constant the index scan
	// starts from (joined, the planner filters every row after it instead).
	var curTx, curEvent string
	if err := s.pool.QueryRow(ctx, "SELECT tap_txid::text, tap_event::text FROM export_cursors").Scan(&curTx, &curEvent); err != nil {
		return nil, fmt.Errorf("settlepg: pending taps: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT t.event_id::text, device, site, kind, coalesce(subject, ''),
		captured_at, received_at, open, reason, coalesce(fare, 0), t.txid::text
		FROM taps t
		WHERE (t.txid, t.event_id) > ($2::xid8, $3::uuid) AND t.txid < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY t.txid, t.event_id LIMIT $1`, limit, curTx, curEvent)
	if err != nil {
		return nil, fmt.Errorf("settlepg: pending taps: %w", err)
	}
	defer rows.Close()
	var out []ridership.Tap
	for rows.Next() {
		var t ridership.Tap
		var subject, txid string
		if err := rows.Scan(&t.EventID, &t.Device, &t.Site, &t.Kind, &subject, &t.CapturedAt, &t.ReceivedAt,
			&t.Open, &t.Reason, &t.Fare, &txid); err != nil {
			return nil, fmt.Errorf("settlepg: pending taps: %w", err)
		}
		t.RiderKey, t.Outbox = pseudonym(subject), txid+"/"+t.EventID
		out = append(out, t)
	}
	return out, rows.Err()
}

// MarkTapsExported moves the cursor to upTo, the position (Tap.Outbox) of
// the last tap the sink holds, as it was read: never back.
func (s *Store) MarkTapsExported(ctx context.Context, upTo string) error {
	txid, key, ok := strings.Cut(upTo, "/")
	if !ok {
		return fmt.Errorf("settlepg: mark taps: bad outbox position %q", upTo)
	}
	_, err := s.pool.Exec(ctx, `UPDATE export_cursors SET tap_txid = $1::xid8, tap_event = $2::uuid
		WHERE ($1::xid8, $2::uuid) > (tap_txid, tap_event)`, txid, key)
	if err != nil {
		return fmt.Errorf("settlepg: mark taps: %w", err)
	}
	return nil
}

// PendingJourneys returns closed journeys after the export cursor.
func (s *Store) PendingJourneys(ctx context.Context, limit int, pseudonym func(string) string) ([]ridership.Journey, error) {
	if lead, err := s.leadExport(ctx); err != nil || !lead {
		return nil, err
	}
	var curTx string
	var curID int64
	if err := s.pool.QueryRow(ctx, "SELECT journey_txid::text, journey_id FROM export_cursors").Scan(&curTx, &curID); err != nil {
		return nil, fmt.Errorf("settlepg: pending journeys: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT j.id, subject, network_id, operator_id, coalesce(entry_site, ''),
		coalesce(exit_site, ''), entry_at, exit_at, status, category, coalesce(fare_rule, ''), coalesce(fare, 0),
		j.export_txid::text
		FROM journeys j
		WHERE j.export_txid IS NOT NULL AND (j.export_txid, j.id) > ($2::xid8, $3::bigint)
			AND j.export_txid < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY j.export_txid, j.id LIMIT $1`, limit, curTx, curID)
	if err != nil {
		return nil, fmt.Errorf("settlepg: pending journeys: %w", err)
	}
	defer rows.Close()
	var out []ridership.Journey
	for rows.Next() {
		var j ridership.Journey
		var subject string
		var entryAt, exitAt *time.Time
		var fare decimal.Decimal
		var txid string
		if err := rows.Scan(&j.ID, &subject, &j.NetworkID, &j.OperatorID, &j.EntrySite, &j.ExitSite,
			&entryAt, &exitAt, &j.Status, &j.Category, &j.FareRule, &fare, &txid); err != nil {
			return nil, fmt.Errorf("settlepg: pending journeys: %w", err)
		}
		if entryAt != nil {
			j.EntryAt = *entryAt
		}
		if exitAt != nil {
			j.ExitAt = *exitAt
		}
		j.Fare, j.RiderKey, j.Outbox = fare, pseudonym(subject), txid+"/"+strconv.FormatInt(j.ID, 10)
		// The transaction that last closed the journey: a later close is
		// a later version of it in ClickHouse.
		if j.Version, err = strconv.ParseUint(txid, 10, 64); err != nil {
			return nil, fmt.Errorf("settlepg: pending journeys: export_txid %q: %w", txid, err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// MarkJourneysExported moves the journeys' cursor to upTo (Journey.Outbox)
// as it was read. (Not to where that journey is now: a journey closed again
// since, by a late entry's correction, has a newer position, and moving the
// cursor there would skip every journey in between. It is exported again
// at its new position.)
func (s *Store) MarkJourneysExported(ctx context.Context, upTo string) error {
	txid, key, ok := strings.Cut(upTo, "/")
	id, err := strconv.ParseInt(key, 10, 64)
	if !ok || err != nil {
		return fmt.Errorf("settlepg: mark journeys: bad outbox position %q", upTo)
	}
	_, err = s.pool.Exec(ctx, `UPDATE export_cursors SET journey_txid = $1::xid8, journey_id = $2
		WHERE ($1::xid8, $2::bigint) > (journey_txid, journey_id)`, txid, id)
	if err != nil {
		return fmt.Errorf("settlepg: mark journeys: %w", err)
	}
	return nil
}

// PendingExport counts taps and journeys not yet past the export cursor
// (books, metrics).
func (s *Store) PendingExport(ctx context.Context) (taps, journeys int64, err error) {
	err = s.reader().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM taps t WHERE (t.txid, t.event_id) > (SELECT tap_txid, tap_event FROM export_cursors)),
		(SELECT count(*) FROM journeys j WHERE j.export_txid IS NOT NULL
			AND (j.export_txid, j.id) > (SELECT journey_txid, journey_id FROM export_cursors))`).Scan(&taps, &journeys)
	if err != nil {
		err = fmt.Errorf("settlepg: pending export: %w", err)
	}
	return taps, journeys, err
}
