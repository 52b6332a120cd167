-- The notification outbox: events keyed by a stable id, and one delivery per (event,
-- destination), so enqueueing an event twice never sends it twice.
CREATE TABLE notify_events (
    id          TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    service     TEXT    NOT NULL,
    occurred_ms INTEGER NOT NULL,
    link        TEXT    NOT NULL,
    data        TEXT    NOT NULL    -- JSON object
);

CREATE TABLE notify_deliveries (
    id               INTEGER PRIMARY KEY,
    event_id         TEXT    NOT NULL REFERENCES notify_events (id) ON DELETE CASCADE,
    destination      TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL,
    claimed_by       TEXT,
    claimed_until_ms INTEGER,
    created_ms       INTEGER NOT NULL,
    last_attempt_ms  INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    delivered_ms     INTEGER,
    UNIQUE (event_id, destination)
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (destination, state, next_attempt_ms);
