-- The operator's side: API tokens (SHA-256 of the secret), admin users (argon2 PHC strings)
-- and their sessions (SHA-256 of the cookie), incidents and maintenance windows with their
-- timestamped updates.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    role       TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);

CREATE TABLE users (
    name            TEXT    PRIMARY KEY,
    role            TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER
) WITHOUT ROWID;

CREATE TABLE sessions (
    id_hash    BLOB    PRIMARY KEY,
    user_name  TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE incidents (
    id                 INTEGER PRIMARY KEY,
    service            TEXT    NOT NULL,
    kind               TEXT    NOT NULL,   -- incident | maintenance
    title              TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    impact             TEXT    NOT NULL,
    components         TEXT    NOT NULL,   -- JSON: component id -> state
    draft              INTEGER NOT NULL CHECK (draft IN (0, 1)),
    source             TEXT    NOT NULL,   -- operator | crowd | probes
    evidence           TEXT,               -- JSON
    created_ms         INTEGER NOT NULL,
    updated_ms         INTEGER NOT NULL,
    published_ms       INTEGER,
    resolved_ms        INTEGER,
    onset_ms           INTEGER,
    detected_ms        INTEGER,
    acknowledged_ms    INTEGER,
    scheduled_start_ms INTEGER,
    scheduled_end_ms   INTEGER,
    recovered_ms       INTEGER,
    postmortem         TEXT,
    postmortem_ms      INTEGER,
    version            INTEGER NOT NULL
);
CREATE INDEX incidents_by_service ON incidents (service, created_ms);

CREATE TABLE incident_updates (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at_ms       INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    components  TEXT    NOT NULL,
    author      TEXT    NOT NULL
);
CREATE INDEX incident_updates_by_incident ON incident_updates (incident_id, at_ms);
