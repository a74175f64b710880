-- Erasure on request (settlepg.Erase): what the accounting law keeps (ledger
-- transactions and entries, amounts, journeys' fares) stays, de-identified:
-- the rider's subject is replaced by a random tombstone ('erased-…') in
-- every identity column, inside one transaction that sets
-- vnpass.erasure = '<tombstone>'. The append-only tables allow exactly that
-- change and nothing else: an amount, a date, a kind or a memo can still
-- never change, and rows can never be deleted.
CREATE OR REPLACE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text := current_setting('vnpass.erasure', true);
BEGIN
    -- Nested IFs: plpgsql does not promise to stop at a false AND, and
    -- OLD.account_id does not exist on ledger_transactions.
    IF TG_OP = 'UPDATE' AND t LIKE 'erased-%' THEN
        IF TG_TABLE_NAME = 'ledger_entries' THEN
            IF to_jsonb(OLD) ->> 'account_id' LIKE 'rider:%' AND to_jsonb(NEW) ->> 'account_id' = 'rider:' || t
               AND to_jsonb(NEW) - 'account_id' = to_jsonb(OLD) - 'account_id' THEN
                RETURN NEW;
            END IF;
        ELSIF TG_TABLE_NAME = 'ledger_transactions' THEN
            IF strpos(to_jsonb(NEW) ->> 'idempotency_key', t) > 0
               AND to_jsonb(NEW) - 'idempotency_key' = to_jsonb(OLD) - 'idempotency_key' THEN
                RETURN NEW;
            END IF;
        END IF;
    END IF;
    RAISE EXCEPTION 'ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END $$;

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text := current_setting('vnpass.erasure', true);
BEGIN
    IF TG_OP = 'UPDATE' AND t LIKE 'erased-%' AND NEW.rider = t
       AND to_jsonb(NEW) - 'rider' = to_jsonb(OLD) - 'rider' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END $$;

-- An account's subject (and id) change carries through to the tables that
-- reference it.
ALTER TABLE passes DROP CONSTRAINT passes_subject_fkey,
    ADD CONSTRAINT passes_subject_fkey FOREIGN KEY (subject) REFERENCES accounts (subject) ON UPDATE CASCADE;
ALTER TABLE funding_links DROP CONSTRAINT funding_links_subject_fkey,
    ADD CONSTRAINT funding_links_subject_fkey FOREIGN KEY (subject) REFERENCES accounts (subject) ON UPDATE CASCADE;
ALTER TABLE collections DROP CONSTRAINT collections_subject_fkey,
    ADD CONSTRAINT collections_subject_fkey FOREIGN KEY (subject) REFERENCES accounts (subject) ON UPDATE CASCADE;
ALTER TABLE account_events DROP CONSTRAINT account_events_subject_fkey,
    ADD CONSTRAINT account_events_subject_fkey FOREIGN KEY (subject) REFERENCES accounts (subject) ON UPDATE CASCADE;
ALTER TABLE account_shards DROP CONSTRAINT account_shards_account_id_fkey,
    ADD CONSTRAINT account_shards_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id) ON UPDATE CASCADE;
