-- Rolling upgrades (see the PostgreSQL migration of the same name): each migration from
-- this one on records the oldest schema version whose binaries keep working once it is
-- applied. SQLite has one node, but both backends keep one schema.
ALTER TABLE schema_migrations ADD COLUMN keeps_working_from INTEGER;
