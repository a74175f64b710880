-- Riders' disputes of charges, and every change of their state.
CREATE TABLE disputes (
    id           bigserial PRIMARY KEY,
    subject      text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('journey', 'parking_session')),
    charge_id    bigint NOT NULL,
    charged      numeric(20, 0) NOT NULL CHECK (charged > 0),
    reason       text NOT NULL,
    status       text NOT NULL CHECK (status IN ('open', 'refunded', 'rejected')),
    resolution   text NOT NULL DEFAULT '',
    resolved_by  text NOT NULL DEFAULT '',
    resolved_at  timestamptz,
    refund       numeric(20, 0) NOT NULL DEFAULT 0,
    refund_tx    bigint,
    created_at   timestamptz NOT NULL,
    CHECK ((status = 'open') = (resolved_at IS NULL)),
    CHECK ((status = 'refunded') = (refund_tx IS NOT NULL))
);
-- One open dispute per charge.
CREATE UNIQUE INDEX disputes_one_open ON disputes (kind, charge_id) WHERE status = 'open';
CREATE INDEX disputes_subject ON disputes (subject, id DESC);
CREATE INDEX disputes_status ON disputes (status, id);

-- Who changed what and when; append-only.
CREATE TABLE dispute_events (
    dispute_id  bigint NOT NULL REFERENCES disputes (id),
    seq         int NOT NULL,
    at          timestamptz NOT NULL,
    by_whom     text NOT NULL,
    status      text NOT NULL,
    note        text NOT NULL DEFAULT '',
    PRIMARY KEY (dispute_id, seq)
);
CREATE FUNCTION dispute_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'dispute_events is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER dispute_events_immutable BEFORE UPDATE OR DELETE ON dispute_events
    FOR EACH ROW EXECUTE FUNCTION dispute_events_immutable();
