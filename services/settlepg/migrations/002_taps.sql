-- Every tap that decoded, with the decision sent, keyed by its event id:
-- a redelivered tap finds its row and gets the same decision bytes again.
CREATE TABLE journeys (
    id           bigserial PRIMARY KEY,
    subject      text NOT NULL,
    network_id   text NOT NULL,
    operator_id  text NOT NULL,
    entry_event  uuid,
    entry_site   text,
    entry_at     timestamptz,
    exit_event   uuid,
    exit_site    text,
    exit_at      timestamptz,
    status       text NOT NULL CHECK (status IN ('open', 'closed', 'incomplete')),
    fare         numeric(20, 0),
    fare_rule    text,
    category     text NOT NULL,
    exported     boolean NOT NULL DEFAULT false
);
-- One open journey per rider: the database enforces pass-back too.
CREATE UNIQUE INDEX journeys_one_open ON journeys (subject) WHERE status = 'open';
CREATE INDEX journeys_unexported ON journeys (id) WHERE NOT exported AND status <> 'open';

CREATE TABLE taps (
    event_id     uuid PRIMARY KEY,
    device       text NOT NULL,
    site         text NOT NULL,
    kind         text NOT NULL,
    subject      text,
    captured_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    open         boolean NOT NULL,
    reason       text NOT NULL,
    fare         numeric(20, 0),
    balance      numeric(20, 0),
    journey_id   bigint REFERENCES journeys (id),
    decision     bytea NOT NULL,
    exported     boolean NOT NULL DEFAULT false
);
CREATE INDEX taps_unexported ON taps (received_at) WHERE NOT exported;

-- Assertion ids are single use, across restarts and replicas.
CREATE TABLE assertion_uses (
    jti         text PRIMARY KEY,
    event_id    uuid NOT NULL,
    expires_at  timestamptz NOT NULL
);
