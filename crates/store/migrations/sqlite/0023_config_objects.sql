-- Services, monitors and notification destinations managed at runtime (the API, the admin
-- area), each the TOML table the config file would hold. A new table only, so nodes of
-- the previous version keep working (they do not see these objects).
CREATE TABLE config_objects (
    seq        INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    UNIQUE (kind, id)
);
