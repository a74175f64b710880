-- Every access by staff (admin, operator, committee) to a rider's personal
-- data on /v1: who (token subject, role, operator or city scope), what
-- (action, resource), whose (the rider's internal subject, never a national
-- id; empty for a list of many riders), why (the purpose the caller gave)
-- and the request id. Append-only: rows are never changed or removed.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text NOT NULL CHECK (actor <> ''),
    role        text NOT NULL CHECK (role IN ('admin', 'operator', 'committee', 'rider', 'system')),
    operator_id text NOT NULL DEFAULT '',
    city        text NOT NULL DEFAULT '',
    action      text NOT NULL CHECK (action <> ''),
    resource    text NOT NULL,
    rider       text NOT NULL DEFAULT '',
    reason      text NOT NULL CHECK (length(reason) BETWEEN 3 AND 1200),
    request_id  text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_rider ON audit_log (rider, id DESC) WHERE rider <> '';
CREATE INDEX audit_log_actor ON audit_log (actor, id DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
-- The application's own role may only add and read rows; the triggers hold
-- against the table owner too (only a superuser dropping them gets past).
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
