-- Passes sold by partners (transport apps) and bound to a rider through the
-- partner API. The rider paid the partner, not vnpass: amount stays what
-- vnpass took (0, no ledger movement), so that passes.amount always equals
-- the pass payments in the ledger; list_amount is the price the fare data
-- gives the product (what the partner is expected to have charged), for the
-- partner's and the operator's own clearing. source says who sold it.
-- A partner may revoke a pass it bound: revoked_at ends its validity from
-- then on (settlement reads least(valid_until, revoked_at)); journeys
-- priced before keep their price.
ALTER TABLE passes
    ADD COLUMN source       text NOT NULL DEFAULT 'vnpass' CHECK (source IN ('vnpass', 'partner')),
    ADD COLUMN partner_id   text,
    ADD COLUMN external_id  text,
    ADD COLUMN list_amount  numeric(20, 0) CHECK (list_amount >= 0),
    ADD COLUMN revoked_at   timestamptz,
    ADD CONSTRAINT passes_source_partner CHECK (
        (source = 'partner') = (partner_id IS NOT NULL)
        AND (source = 'partner') = (external_id IS NOT NULL)
        AND (source = 'partner') = (list_amount IS NOT NULL)
        AND (source = 'partner' OR revoked_at IS NULL)
        AND (source = 'vnpass' OR amount = 0)
    );
-- A partner's own sale id names one pass.
CREATE UNIQUE INDEX passes_partner_external ON passes (partner_id, external_id) WHERE partner_id IS NOT NULL;
CREATE INDEX passes_partner_subject ON passes (partner_id, subject) WHERE partner_id IS NOT NULL;
