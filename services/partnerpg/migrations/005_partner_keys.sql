-- Partner API keys, with ids, so that a partner can rotate its key without a
-- flag day and a leaked key can be retired without deactivating the partner.
-- A partner's token names its key by the kid in its header; the token is
-- verified by the partner's active key of that kid (a token without kid only
-- while the partner has exactly one active key). Each partner's existing
-- key becomes kid 'k0', active. partners.public_key stays as the key the
-- partner registered with; authentication reads partner_keys only.
--
-- Keys are never deleted nor changed: retiring sets retired_at once, and a
-- retired key (and its kid, and its public key) cannot come back.
CREATE TABLE partner_keys (
    partner_id  text NOT NULL REFERENCES partners (id),
    kid         text NOT NULL CHECK (kid ~ '^[A-Za-z0-9._-]{1,64}$'),
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz,
    PRIMARY KEY (partner_id, kid),
    UNIQUE (partner_id, public_key)
);

INSERT INTO partner_keys (partner_id, kid, public_key, created_at)
    SELECT id, 'k0', public_key, created_at FROM partners;

CREATE FUNCTION partner_keys_retire_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.retired_at IS NULL AND NEW.retired_at IS NOT NULL
           AND (to_jsonb(NEW) - 'retired_at') = (to_jsonb(OLD) - 'retired_at') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'partner_keys: only retiring an active key is allowed: % refused', TG_OP;
END $$;
CREATE TRIGGER partner_keys_retire_only BEFORE UPDATE OR DELETE ON partner_keys
    FOR EACH ROW EXECUTE FUNCTION partner_keys_retire_only();
CREATE TRIGGER partner_keys_no_truncate BEFORE TRUNCATE ON partner_keys
    FOR EACH STATEMENT EXECUTE FUNCTION partner_keys_retire_only();
