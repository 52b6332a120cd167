-- The notification outbox: events keyed by a stable id, and one delivery per (event,
-- destination), so enqueueing an event twice never sends it twice.
CREATE TABLE notify_events (
    id          TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    service     TEXT    NOT NULL,
    occurred_ms BIGINT NOT NULL,
    link        TEXT    NOT NULL,
    data        TEXT    NOT NULL    -- JSON object
);

CREATE TABLE notify_deliveries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         TEXT    NOT NULL REFERENCES notify_events (id) ON DELETE CASCADE,
    destination      TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT NOT NULL,
    claimed_by       TEXT,
    claimed_until_ms BIGINT,
    created_ms       BIGINT NOT NULL,
    last_attempt_ms  BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    delivered_ms     BIGINT,
    UNIQUE (event_id, destination)
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (destination, state, next_attempt_ms);
