-- Funding: prepaid (a balance topped up in advance) or post-paid (fares
-- collected after travel, one debit per rider per day from a linked bank
-- account or e-wallet). debt_since is set when a post-paid collection was
-- declined and cleared when the debt is paid.
ALTER TABLE accounts
    ADD COLUMN funding    text NOT NULL DEFAULT 'prepaid' CHECK (funding IN ('prepaid', 'postpaid')),
    ADD COLUMN debt_since timestamptz;
