-- Erasure on request (settlepg.Erase, in the same transaction as every
-- other store's part): the partner history keeps its rows, dates, routes,
-- scopes and outcomes, but the rider's subject becomes the tombstone set in
-- vnpass.erasure. Otherwise both tables stay append-only: the statement
-- triggers of 001 become row triggers that allow exactly that replacement.
CREATE FUNCTION partner_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text := current_setting('vnpass.erasure', true);
    n jsonb;
    o jsonb;
BEGIN
    IF TG_OP = 'UPDATE' AND t LIKE 'erased-%' THEN
        n := to_jsonb(NEW);
        o := to_jsonb(OLD);
        IF (n->>'subject' IS NOT DISTINCT FROM o->>'subject' OR n->>'subject' = t)
           AND (n->>'actor' IS NOT DISTINCT FROM o->>'actor' OR n->>'actor' = replace(o->>'actor', o->>'subject', t))
           AND n - 'subject' - 'actor' = o - 'subject' - 'actor' THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
DROP TRIGGER partner_audit_append_only ON partner_audit;
DROP TRIGGER consent_events_append_only ON consent_events;
CREATE TRIGGER partner_audit_append_only BEFORE UPDATE OR DELETE ON partner_audit
    FOR EACH ROW EXECUTE FUNCTION partner_history_append_only();
CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION partner_history_append_only();
CREATE TRIGGER partner_audit_no_truncate BEFORE TRUNCATE ON partner_audit
    FOR EACH STATEMENT EXECUTE FUNCTION partner_audit_append_only();
CREATE TRIGGER consent_events_no_truncate BEFORE TRUNCATE ON consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION partner_audit_append_only();
