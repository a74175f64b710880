-- Transfers: the journey this one continues, and the rule that joined them.
ALTER TABLE journeys
    ADD COLUMN transfer_rule text,
    ADD COLUMN transfer_from bigint REFERENCES journeys (id);
