-- Crowd reports, raw (kept for the retention period) and rolled up per minute (kept longer).
CREATE TABLE reports (
    id             INTEGER PRIMARY KEY,
    service        TEXT    NOT NULL,
    received_at_ms INTEGER NOT NULL,
    problem        TEXT    NOT NULL,
    platform       TEXT,
    country        TEXT,
    city           TEXT,
    -- keyed hashes (daily salt) of the client address and of its /24 or /48 network;
    -- raw addresses are never stored
    client_hash    BLOB    NOT NULL,
    network_hash   BLOB    NOT NULL,
    counted        INTEGER NOT NULL CHECK (counted IN (0, 1))
);
CREATE INDEX reports_by_service_time ON reports (service, received_at_ms);
-- No index on time alone (one index less to maintain on every insert): retention walks this
-- one, service by service.

-- Counted reports per minute; '' stands for "not given" in platform and country so the key
-- can be a primary key.
CREATE TABLE report_minutes (
    service   TEXT    NOT NULL,
    minute_ms INTEGER NOT NULL,
    problem   TEXT    NOT NULL,
    platform  TEXT    NOT NULL,
    country   TEXT    NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (service, minute_ms, problem, platform, country)
) WITHOUT ROWID;
CREATE INDEX report_minutes_by_time ON report_minutes (minute_ms);

-- The secret salt of each UTC day for client hashes; deleted after two days so old hashes
-- can no longer be linked to addresses.
CREATE TABLE daily_salts (
    day  INTEGER PRIMARY KEY,
    salt BLOB    NOT NULL
);
