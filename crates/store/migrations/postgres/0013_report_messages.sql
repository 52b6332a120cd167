-- What the error on a listener's screen says: the optional message of a report, shown only
-- in clusters that enough networks typed. Nullable, so nodes of the previous version keep
-- writing reports without it.
ALTER TABLE reports ADD COLUMN message TEXT;
