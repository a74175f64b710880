-- The balance check reads only the rows the statement inserted: every
-- statement's entries must sum to zero per transaction. Since entries are
-- never updated or deleted, and every statement balances its own rows,
-- every transaction balances. (Reading back each transaction's entries from
-- the table cost a scan of the whole ledger per statement as it grew.)
CREATE OR REPLACE FUNCTION ledger_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad   bigint;
    total numeric;
BEGIN
    SELECT transaction_id, sum(amount) INTO bad, total
    FROM new_entries GROUP BY transaction_id HAVING sum(amount) <> 0 LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (sum %)', bad, total;
    END IF;
    RETURN NULL;
END $$;
