-- Every fare movement names its journey, so a journey's postings (charges,
-- corrections, refunds) are found by reference, not by idempotency-key shape.
ALTER TABLE ledger_transactions ADD COLUMN journey_id bigint REFERENCES journeys (id);
CREATE INDEX ledger_transactions_journey ON ledger_transactions (journey_id) WHERE journey_id IS NOT NULL;

-- Link what was posted before this column existed (the keys then named the taps).
ALTER TABLE ledger_transactions DISABLE TRIGGER ledger_transactions_immutable;
UPDATE ledger_transactions t SET journey_id = j.id FROM journeys j
WHERE t.journey_id IS NULL AND (
    t.idempotency_key = 'fare:' || j.exit_event::text
    OR t.idempotency_key = 'fare-correction:' || j.exit_event::text
    OR t.idempotency_key = 'fare:missing-exit:' || j.entry_event::text);
ALTER TABLE ledger_transactions ENABLE TRIGGER ledger_transactions_immutable;
