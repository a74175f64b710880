-- The analytics outbox without a second write of every row (issue 9).
-- Before: taps.exported / journeys.exported flags, set by an UPDATE after
-- ClickHouse held the rows: every tap and journey was written twice, the
-- second time touching every index (the flag sat in a partial index, so no
-- HOT update) and leaving a dead row for vacuum.
-- Now: each row carries the id of the transaction that made it exportable
-- (a tap when inserted, a journey when it closed), and the exporter keeps a
-- cursor (transaction id, key) in export_cursors. It reads only rows of
-- transactions older than the oldest one still running
-- (pg_snapshot_xmin(pg_current_snapshot())): those have all committed or
-- aborted, so no row can later appear behind the cursor.
ALTER TABLE taps ADD COLUMN txid xid8;
-- Rows already exported sort before every transaction; the rest are the
-- migration's own transaction, after the cursor's start.
UPDATE taps SET txid = CASE WHEN exported THEN '1'::xid8 ELSE pg_current_xact_id() END;
ALTER TABLE taps ALTER COLUMN txid SET DEFAULT pg_current_xact_id(), ALTER COLUMN txid SET NOT NULL;
CREATE INDEX taps_export ON taps (txid, event_id);
DROP INDEX taps_unexported;
ALTER TABLE taps DROP COLUMN exported;

-- A journey becomes exportable when it closes (or is made closed): the
-- statements that close one set export_txid = pg_current_xact_id().
ALTER TABLE journeys ADD COLUMN export_txid xid8;
UPDATE journeys SET export_txid = CASE WHEN exported THEN '1'::xid8 ELSE pg_current_xact_id() END
    WHERE status <> 'open';
CREATE INDEX journeys_export ON journeys (export_txid, id) WHERE export_txid IS NOT NULL;
DROP INDEX journeys_unexported;
ALTER TABLE journeys DROP COLUMN exported;

CREATE TABLE export_cursors (
    one          boolean PRIMARY KEY DEFAULT true CHECK (one),
    tap_txid     xid8 NOT NULL,
    tap_event    uuid NOT NULL,
    journey_txid xid8 NOT NULL,
    journey_id   bigint NOT NULL
);
INSERT INTO export_cursors VALUES (true, '1', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '1', 9223372036854775807);
