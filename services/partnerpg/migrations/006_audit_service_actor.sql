-- A service token (authjwt.RoleService: vnpass-fleet reading the deny list
-- and rail tickets) refused by the partner API is audited like any other
-- caller; before, its row failed this check and the call answered 503.
ALTER TABLE partner_audit DROP CONSTRAINT partner_audit_actor_kind_check;
ALTER TABLE partner_audit ADD CONSTRAINT partner_audit_actor_kind_check
    CHECK (actor_kind IN ('partner', 'rider', 'admin', 'operator', 'committee', 'service', 'anonymous'));
