-- Passes riders hold: unlimited journeys on one network within validity.
CREATE TABLE passes (
    id               bigserial PRIMARY KEY,
    subject          text NOT NULL REFERENCES accounts (subject),
    product_id       text NOT NULL,
    network_id       text NOT NULL,
    category         text NOT NULL,
    amount           numeric(20, 0) NOT NULL CHECK (amount >= 0),
    price_rule       text NOT NULL,
    valid_from       timestamptz NOT NULL,
    valid_until      timestamptz NOT NULL CHECK (valid_until > valid_from),
    idempotency_key  text NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL
);
CREATE INDEX passes_subject ON passes (subject, valid_until);

ALTER TABLE journeys ADD COLUMN pass_id bigint REFERENCES passes (id);
