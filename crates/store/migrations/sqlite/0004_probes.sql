-- Monitor results from every vantage region: raw (kept like raw reports) and hourly
-- roll-ups (kept like report roll-ups; uptime bars read them). Plus each monitor's
-- hysteresis state, so a restart neither re-alerts nor forgets an open alert.
CREATE TABLE probe_results (
    id        INTEGER PRIMARY KEY,
    monitor   TEXT    NOT NULL,
    region    TEXT    NOT NULL,
    at_ms     INTEGER NOT NULL,
    outcome   TEXT    NOT NULL,   -- up | degraded | down
    cause     TEXT,               -- dns, connect, tls_certificate, ... when not up
    total_ms  REAL,
    reliable  INTEGER NOT NULL CHECK (reliable IN (0, 1)),
    result    TEXT    NOT NULL    -- the whole result as JSON (timings, certificate, error)
);
CREATE INDEX probe_results_by_monitor ON probe_results (monitor, at_ms);

CREATE TABLE probe_hours (
    monitor    TEXT    NOT NULL,
    region     TEXT    NOT NULL,
    hour_ms    INTEGER NOT NULL,
    probes     INTEGER NOT NULL,
    failures   INTEGER NOT NULL,
    total_ms   REAL    NOT NULL,  -- sum, for the mean latency
    PRIMARY KEY (monitor, region, hour_ms)
) WITHOUT ROWID;
CREATE INDEX probe_hours_by_time ON probe_hours (hour_ms);

CREATE TABLE monitor_states (
    monitor  TEXT    PRIMARY KEY,
    state    TEXT    NOT NULL,    -- up | down
    since_ms INTEGER NOT NULL,
    cause    TEXT
) WITHOUT ROWID;
