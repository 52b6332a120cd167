-- The operator's side: API tokens (SHA-256 of the secret), admin users (argon2 PHC strings)
-- and their sessions (SHA-256 of the cookie), incidents and maintenance windows with their
-- timestamped updates.
CREATE TABLE api_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    role       TEXT    NOT NULL,
    hash       BYTEA   NOT NULL UNIQUE,
    created_ms BIGINT  NOT NULL,
    revoked_ms BIGINT
);

CREATE TABLE users (
    name            TEXT    PRIMARY KEY,
    role            TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    created_ms      BIGINT  NOT NULL,
    failed_logins   BIGINT  NOT NULL DEFAULT 0,
    locked_until_ms BIGINT
);

CREATE TABLE sessions (
    id_hash    BYTEA   PRIMARY KEY,
    user_name  TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_ms BIGINT  NOT NULL,
    expires_ms BIGINT  NOT NULL
);

CREATE TABLE incidents (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service            TEXT    NOT NULL,
    kind               TEXT    NOT NULL,   -- incident | maintenance
    title              TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    impact             TEXT    NOT NULL,
    components         TEXT    NOT NULL,   -- JSON: component id -> state
    draft              BOOLEAN NOT NULL,
    source             TEXT    NOT NULL,   -- operator | crowd | probes
    evidence           TEXT,               -- JSON
    created_ms         BIGINT  NOT NULL,
    updated_ms         BIGINT  NOT NULL,
    published_ms       BIGINT,
    resolved_ms        BIGINT,
    onset_ms           BIGINT,
    detected_ms        BIGINT,
    acknowledged_ms    BIGINT,
    scheduled_start_ms BIGINT,
    scheduled_end_ms   BIGINT,
    recovered_ms       BIGINT,
    postmortem         TEXT,
    postmortem_ms      BIGINT,
    version            BIGINT  NOT NULL
);
CREATE INDEX incidents_by_service ON incidents (service, created_ms);

CREATE TABLE incident_updates (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id BIGINT  NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at_ms       BIGINT  NOT NULL,
    status      TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    components  TEXT    NOT NULL,
    author      TEXT    NOT NULL
);
CREATE INDEX incident_updates_by_incident ON incident_updates (incident_id, at_ms);
