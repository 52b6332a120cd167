-- What the error on a listener's screen says (see the PostgreSQL migration of the same name).
ALTER TABLE reports ADD COLUMN message TEXT;
