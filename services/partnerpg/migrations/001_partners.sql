-- Partners: transport apps (ticketing, bus and ride, parking) registered by
-- the platform. They sign their API tokens with an Ed25519 key whose public
-- half is kept here; webhooks to them are signed with webhook_secret.
CREATE TABLE partners (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('ticketing', 'ride', 'parking')),
    public_key      bytea NOT NULL CHECK (length(public_key) = 32),
    scopes          text[] NOT NULL,
    webhook_url     text NOT NULL DEFAULT '',
    webhook_secret  bytea NOT NULL,
    rate_per_min    integer NOT NULL CHECK (rate_per_min > 0),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- A rider's consent to one partner: what it may do (scopes) until when.
-- rider_ref is the partner's handle for the rider (a keyed hash of the
-- subject per partner): partners never see the platform's subject and
-- cannot match riders between them. Withdrawal sets withdrawn_at; a new
-- grant replaces the row. Every grant and withdrawal is in consent_events.
CREATE TABLE consents (
    partner_id    text NOT NULL REFERENCES partners (id),
    subject       text NOT NULL,
    rider_ref     text NOT NULL,
    scopes        text[] NOT NULL,
    granted_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    withdrawn_at  timestamptz,
    PRIMARY KEY (partner_id, subject),
    UNIQUE (partner_id, rider_ref)
);
CREATE INDEX consents_subject ON consents (subject);

CREATE TABLE consent_events (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    partner_id  text NOT NULL,
    subject     text NOT NULL,
    action      text NOT NULL CHECK (action IN ('grant', 'withdraw')),
    scopes      text[] NOT NULL,
    expires_at  timestamptz
);

-- Train tickets bound to riders by the partner that sold them.
CREATE TABLE rail_tickets (
    id           bigserial PRIMARY KEY,
    partner_id   text NOT NULL REFERENCES partners (id),
    ticket_ref   text NOT NULL,
    subject      text NOT NULL,
    train        text NOT NULL,
    departure    timestamptz NOT NULL,
    coach        text NOT NULL,
    seat         text NOT NULL,
    origin       text NOT NULL,
    destination  text NOT NULL,
    status       text NOT NULL CHECK (status IN ('valid', 'used', 'cancelled')),
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    used_at      timestamptz,
    used_event   uuid,
    used_site    text,
    UNIQUE (partner_id, ticket_ref)
);
CREATE INDEX rail_tickets_subject ON rail_tickets (subject, departure);

-- Rail gate taps, once each by event id, with the exact decision sent.
CREATE TABLE rail_taps (
    event_id     uuid PRIMARY KEY,
    device       text NOT NULL,
    site         text NOT NULL,
    subject      text,
    captured_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    reason       text NOT NULL,
    ticket_id    bigint REFERENCES rail_tickets (id),
    offline      boolean NOT NULL DEFAULT false,
    decision     bytea NOT NULL
);

-- Webhooks to partners: written in the transaction of the event, sent by
-- the dispatcher until the partner answers 2xx, with backoff. The id is
-- the delivery's identity for the receiver (kept across retries); the
-- event key makes an event enqueue once.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    partner_id       text NOT NULL REFERENCES partners (id),
    event_type       text NOT NULL,
    event_key        text NOT NULL UNIQUE,
    payload          bytea NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_status      integer,
    last_error       text,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';

-- Every call of the partner API, append-only.
CREATE TABLE partner_audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_kind  text NOT NULL CHECK (actor_kind IN ('partner', 'rider', 'admin', 'anonymous')),
    actor       text NOT NULL,
    method      text NOT NULL,
    route       text NOT NULL,
    subject     text,
    status      integer NOT NULL,
    outcome     text NOT NULL
);
CREATE FUNCTION partner_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'partner_audit is append-only';
END $$;
CREATE TRIGGER partner_audit_append_only BEFORE UPDATE OR DELETE ON partner_audit
    FOR EACH STATEMENT EXECUTE FUNCTION partner_audit_append_only();
CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION partner_audit_append_only();
