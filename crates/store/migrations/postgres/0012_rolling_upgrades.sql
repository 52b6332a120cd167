-- Rolling upgrades: each migration from this one on records the oldest schema version whose
-- binaries keep working once it is applied (NULL: none older than itself). A node whose
-- binary knows version N starts on a newer schema when every newer migration keeps N
-- working, so old nodes run, and restart, beside new ones while a cluster is upgraded one
-- node at a time.
ALTER TABLE schema_migrations ADD COLUMN keeps_working_from BIGINT;
