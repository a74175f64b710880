-- Erasure on request (settlepg.Erase): a rider's dispute keeps its charge,
-- amounts, outcome and dates; the rider's subject becomes the tombstone set
-- in vnpass.erasure and the free text (reasons, notes) is emptied. The
-- events stay append-only otherwise: no other change, no delete.
CREATE OR REPLACE FUNCTION dispute_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text := current_setting('vnpass.erasure', true);
BEGIN
    IF TG_OP = 'UPDATE' AND t LIKE 'erased-%' AND NEW.note = ''
       AND (NEW.by_whom = OLD.by_whom OR NEW.by_whom = 'rider:' || t)
       AND to_jsonb(NEW) - 'by_whom' - 'note' = to_jsonb(OLD) - 'by_whom' - 'note' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'dispute_events is append-only: % refused', TG_OP;
END $$;
