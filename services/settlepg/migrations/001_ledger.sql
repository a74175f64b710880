-- Accounts and the double-entry ledger. Amounts are whole dong (numeric).
CREATE TABLE accounts (
    id          text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('rider', 'operator', 'provider')),
    subject     text UNIQUE,            -- riders: pseudonymous VNeID subject
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
    balance     numeric(20, 0) NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'rider') = (subject IS NOT NULL))
);

CREATE TABLE ledger_transactions (
    id               bigserial PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    kind             text NOT NULL,
    memo             text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL
);

CREATE TABLE ledger_entries (
    transaction_id  bigint NOT NULL REFERENCES ledger_transactions (id),
    account_id      text NOT NULL REFERENCES accounts (id),
    amount          numeric(20, 0) NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (transaction_id, account_id)
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id);

-- The ledger is append-only: corrections are new transactions.
CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER ledger_transactions_immutable BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

-- Every transaction balances, checked by the database at commit whatever
-- code wrote it.
CREATE FUNCTION ledger_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total numeric;
BEGIN
    SELECT coalesce(sum(amount), 0) INTO total FROM ledger_entries WHERE transaction_id = NEW.transaction_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (sum %)', NEW.transaction_id, total;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_balanced();
