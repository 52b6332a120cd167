-- Crowd reports, raw (kept for the retention period) and rolled up per minute (kept longer).
CREATE TABLE reports (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service        TEXT    NOT NULL,
    received_at_ms BIGINT  NOT NULL,
    problem        TEXT    NOT NULL,
    platform       TEXT,
    country        TEXT,
    city           TEXT,
    -- keyed hashes (daily salt) of the client address and of its /24 or /48 network;
    -- raw addresses are never stored
    client_hash    BYTEA   NOT NULL,
    network_hash   BYTEA   NOT NULL,
    counted        BOOLEAN NOT NULL
);
CREATE INDEX reports_by_service_time ON reports (service, received_at_ms);
-- No index on time alone (one index less to maintain on every insert): retention walks this
-- one, service by service.

-- Counted reports per minute; '' stands for "not given" in platform and country so the key
-- can be a primary key.
CREATE TABLE report_minutes (
    service   TEXT   NOT NULL,
    minute_ms BIGINT NOT NULL,
    problem   TEXT   NOT NULL,
    platform  TEXT   NOT NULL,
    country   TEXT   NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (service, minute_ms, problem, platform, country)
);
CREATE INDEX report_minutes_by_time ON report_minutes (minute_ms);

-- The secret salt of each UTC day for client hashes; deleted after two days so old hashes
-- can no longer be linked to addresses.
CREATE TABLE daily_salts (
    day  BIGINT PRIMARY KEY,
    salt BYTEA  NOT NULL
);
