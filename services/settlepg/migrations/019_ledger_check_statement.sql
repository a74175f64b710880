-- The balance check reads only the rows the statement inserted (its
-- transition table), not ledger_entries: the old check's join back to
-- ledger_entries had its plan made once per connection, when the table was
-- empty (a fresh install), and then scanned the whole table on every
-- settlement batch for as long as the connection lived. The rule is
-- stricter than before, not looser: every statement's entries must sum to
-- zero per transaction, so a transaction's entries are inserted together
-- (as Post and settlement always do) and no later statement can add an
-- unbalanced part to a posted transaction.
CREATE OR REPLACE FUNCTION ledger_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad   bigint;
    total numeric;
BEGIN
    SELECT transaction_id, sum(amount) INTO bad, total
    FROM new_entries
    GROUP BY transaction_id HAVING sum(amount) <> 0 LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (sum %)', bad, total;
    END IF;
    RETURN NULL;
END $$;
