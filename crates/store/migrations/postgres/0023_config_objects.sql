-- Services, monitors and notification destinations managed at runtime (the API, the admin
-- area), each the TOML table the config file would hold. A new table only, so nodes of
-- the previous version keep working (they do not see these objects). Every change is said
-- on the change feed (`config`), at commit, so every node puts it in force at once.
CREATE TABLE config_objects (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_ms BIGINT  NOT NULL,
    updated_ms BIGINT  NOT NULL,
    updated_by TEXT    NOT NULL,
    UNIQUE (kind, id)
);
CREATE FUNCTION downbeat_config_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('downbeat_changes', 'config');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER config_objects_changed AFTER INSERT OR UPDATE OR DELETE ON config_objects
    FOR EACH STATEMENT EXECUTE FUNCTION downbeat_config_changed();
