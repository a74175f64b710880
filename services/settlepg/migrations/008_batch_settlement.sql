-- Batched settlement writes every entry of a transaction in one statement,
-- so the balance check runs once per statement over the transactions it
-- touched, instead of one query per entry row.
DROP TRIGGER ledger_entries_balanced ON ledger_entries;
DROP FUNCTION ledger_balanced();

CREATE FUNCTION ledger_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad   bigint;
    total numeric;
BEGIN
    SELECT e.transaction_id, sum(e.amount) INTO bad, total
    FROM ledger_entries e
    WHERE e.transaction_id IN (SELECT DISTINCT transaction_id FROM new_entries)
    GROUP BY e.transaction_id HAVING sum(e.amount) <> 0 LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (sum %)', bad, total;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_balanced();

-- What a rider paid per day, read for caps: complete journeys by entry time.
CREATE INDEX journeys_subject_entry ON journeys (subject, entry_at) WHERE status = 'closed';

-- A gate that decided a tap itself (the cloud unreachable) says what it decided.
ALTER TABLE taps
    ADD COLUMN offline_open       boolean,
    ADD COLUMN offline_reason     text,
    ADD COLUMN offline_rule       text,
    ADD COLUMN offline_decided_at timestamptz,
    ADD COLUMN offline_deny_list  bigint;
