-- Caps: what a journey would have cost, and the cap that lowered it.
ALTER TABLE journeys
    ADD COLUMN full_fare numeric(20, 0),
    ADD COLUMN cap       text,
    ADD COLUMN cap_rule  text;
