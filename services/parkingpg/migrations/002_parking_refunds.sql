-- Refunds of parking fees (a rider's dispute, an operator's goodwill): one
-- row per ledger transaction, posted in the same database transaction from
-- the lot operator's revenue to the rider, so that a session's refunds are
-- summed here and never exceed its fee.
CREATE TABLE parking_refunds (
    id             bigserial PRIMARY KEY,
    session_id     bigint NOT NULL REFERENCES parking_sessions (id),
    key            text NOT NULL UNIQUE,            -- the ledger transaction's idempotency key
    amount         numeric(20, 0) NOT NULL CHECK (amount > 0),
    reason         text NOT NULL,
    refunded_by    text NOT NULL,
    transaction_id bigint NOT NULL,
    at             timestamptz NOT NULL
);
CREATE INDEX parking_refunds_session ON parking_refunds (session_id);
