-- Parking: lots (a row each, locked by every barrier decision in the lot so
-- that occupancy is counted and changed by one tap at a time), sessions,
-- barrier taps with the decision sent, plate-bound subscriptions and
-- attendants' overrides. Money moves in settlepg's ledger, in the same
-- transactions.
CREATE TABLE parking_lots (
    id          text PRIMARY KEY,
    operator_id text NOT NULL
);

CREATE TABLE parking_sessions (
    id               bigserial PRIMARY KEY,
    lot              text NOT NULL REFERENCES parking_lots (id),
    subject          text,                   -- pseudonymous VNeID subject; NULL for an attendant's entry of an unknown rider
    plate            text NOT NULL,          -- normalised: letters and digits
    class            text NOT NULL CHECK (class IN ('motorbike', 'car', 'large')),
    tariff           text NOT NULL,
    entry_event      uuid,
    entry_at         timestamptz NOT NULL,
    exit_event       uuid,
    exit_at          timestamptz,
    status           text NOT NULL CHECK (status IN ('open', 'closed')),
    fee              numeric(20, 0),
    rule             text,                   -- what priced it: a tariffs.csv row, a subscription, an override
    subscription_id  bigint,
    entry_offline    boolean NOT NULL DEFAULT false,
    exit_offline     boolean NOT NULL DEFAULT false,
    override_id      bigint,
    exported         boolean NOT NULL DEFAULT false,
    CHECK ((status = 'open') = (exit_at IS NULL))
);
-- One open session per rider per lot.
CREATE UNIQUE INDEX parking_sessions_one_open ON parking_sessions (lot, subject) WHERE status = 'open';
CREATE INDEX parking_sessions_open ON parking_sessions (lot, class) WHERE status = 'open';
CREATE INDEX parking_sessions_plate ON parking_sessions (lot, plate) WHERE status = 'open';
CREATE INDEX parking_sessions_rider ON parking_sessions (subject, lot, exit_at DESC);
CREATE INDEX parking_sessions_unexported ON parking_sessions (id) WHERE NOT exported AND status = 'closed';

CREATE TABLE parking_taps (
    event_id     uuid PRIMARY KEY,
    device       text NOT NULL,
    lot          text NOT NULL,
    kind         text NOT NULL,
    subject      text,
    plate        text NOT NULL,
    captured_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    open         boolean NOT NULL,
    reason       text NOT NULL,
    fee          numeric(20, 0),
    balance      numeric(20, 0),
    session_id   bigint REFERENCES parking_sessions (id),
    offline      jsonb,
    decision     bytea NOT NULL
);

CREATE TABLE parking_subscriptions (
    id          bigserial PRIMARY KEY,
    lot         text NOT NULL REFERENCES parking_lots (id),
    subject     text NOT NULL,
    plate       text NOT NULL,
    tariff      text NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    price       numeric(20, 0) NOT NULL,
    key         text NOT NULL UNIQUE,          -- the ledger transaction's idempotency key
    created_at  timestamptz NOT NULL
);
CREATE INDEX parking_subscriptions_plate ON parking_subscriptions (lot, plate, valid_until);

CREATE TABLE parking_overrides (
    id          bigserial PRIMARY KEY,
    lot         text NOT NULL REFERENCES parking_lots (id),
    action      text NOT NULL CHECK (action IN ('entry', 'exit')),
    subject     text,
    plate       text NOT NULL,
    reason      text NOT NULL,
    attendant   text NOT NULL,             -- the attendant's token subject
    role        text NOT NULL,
    waived      boolean NOT NULL DEFAULT false,
    session_id  bigint REFERENCES parking_sessions (id),
    fee         numeric(20, 0),
    key         text NOT NULL UNIQUE,
    at          timestamptz NOT NULL
);
