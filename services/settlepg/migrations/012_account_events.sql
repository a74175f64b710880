-- Who suspended, reinstated or closed an account, when and why.
CREATE TABLE account_events (
    id          bigserial PRIMARY KEY,
    subject     text NOT NULL REFERENCES accounts (subject),
    status      text NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
    reason      text NOT NULL CHECK (reason <> ''),
    changed_by  text NOT NULL CHECK (changed_by <> ''),
    at          timestamptz NOT NULL
);
CREATE INDEX account_events_subject ON account_events (subject, id);
