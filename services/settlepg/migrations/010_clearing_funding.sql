-- Fare corrections by operators: the journey's fare changes, the difference
-- is posted to the ledger, and who did it and why is kept here.
CREATE TABLE journey_corrections (
    id              bigserial PRIMARY KEY,
    journey_id      bigint NOT NULL REFERENCES journeys (id),
    old_fare        numeric(20, 0) NOT NULL,
    new_fare        numeric(20, 0) NOT NULL CHECK (new_fare >= 0),
    exit_site       text,
    reason          text NOT NULL CHECK (reason <> ''),
    corrected_by    text NOT NULL CHECK (corrected_by <> ''),
    idempotency_key text NOT NULL UNIQUE,
    transaction_id  bigint REFERENCES ledger_transactions (id),
    created_at      timestamptz NOT NULL
);
CREATE INDEX journey_corrections_journey ON journey_corrections (journey_id);

-- Funding sources a rider linked for post-paid travel or top-ups, with the
-- consent given: the provider's opaque token, never the account number.
CREATE TABLE funding_links (
    id               bigserial PRIMARY KEY,
    subject          text NOT NULL REFERENCES accounts (subject),
    provider         text NOT NULL,
    method           text NOT NULL,
    token            text NOT NULL,
    masked           text NOT NULL,
    consent_version  text NOT NULL,
    consented_at     timestamptz NOT NULL,
    unlinked_at      timestamptz,
    unlink_reason    text,
    idempotency_key  text NOT NULL UNIQUE
);
-- One live link per rider.
CREATE UNIQUE INDEX funding_links_live ON funding_links (subject) WHERE unlinked_at IS NULL;

-- Post-paid collections: one debit per rider per local day of what they
-- owe, and debt recoveries. A debit whose outcome is unknown (the provider
-- timed out) stays pending and is asked again under the same key.
CREATE TABLE collections (
    key          text PRIMARY KEY,
    subject      text NOT NULL REFERENCES accounts (subject),
    kind         text NOT NULL CHECK (kind IN ('daily', 'recovery')),
    day          date NOT NULL,
    link_id      bigint NOT NULL REFERENCES funding_links (id),
    amount       numeric(20, 0) NOT NULL CHECK (amount > 0),
    status       text NOT NULL CHECK (status IN ('pending', 'approved', 'declined')),
    provider_ref text,
    decline_code text,
    attempts     int NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX collections_pending ON collections (created_at) WHERE status = 'pending';
CREATE INDEX collections_subject ON collections (subject, day);
