-- Changes operators made to their services (deploys, config changes, feature flags,
-- infrastructure changes, rollbacks), as their pipelines recorded them. A new table only,
-- so nodes of the previous version keep working.
CREATE TABLE changes (
    id          INTEGER PRIMARY KEY,
    service     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    component   TEXT,
    version     TEXT,
    title       TEXT,
    link        TEXT,
    region      TEXT,
    at_ms       INTEGER NOT NULL,
    recorded_ms INTEGER NOT NULL,
    recorded_by TEXT    NOT NULL
);
CREATE INDEX changes_by_time ON changes (service, at_ms);
