-- Operators (and committee members) calling the partner API with their
-- platform token are refused there, and the refusal must be audited like any
-- other: with only partner, rider, admin and anonymous allowed, the audit
-- insert failed and every such call answered 503 instead of 403.
ALTER TABLE partner_audit DROP CONSTRAINT partner_audit_actor_kind_check;
ALTER TABLE partner_audit ADD CONSTRAINT partner_audit_actor_kind_check
    CHECK (actor_kind IN ('partner', 'rider', 'admin', 'operator', 'committee', 'anonymous'));
