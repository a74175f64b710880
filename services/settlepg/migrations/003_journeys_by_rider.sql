-- A rider's newest journey, open or finished, is read on every tap.
CREATE INDEX journeys_subject_id ON journeys (subject, id DESC);
