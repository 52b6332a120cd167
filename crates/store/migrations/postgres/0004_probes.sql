-- Monitor results from every vantage region: raw (kept like raw reports) and hourly
-- roll-ups (kept like report roll-ups; uptime bars read them). Plus each monitor's
-- hysteresis state, so a restart neither re-alerts nor forgets an open alert.
CREATE TABLE probe_results (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    monitor   TEXT             NOT NULL,
    region    TEXT             NOT NULL,
    at_ms     BIGINT           NOT NULL,
    outcome   TEXT             NOT NULL,   -- up | degraded | down
    cause     TEXT,                        -- dns, connect, tls_certificate, ... when not up
    total_ms  DOUBLE PRECISION,
    reliable  BOOLEAN          NOT NULL,
    result    TEXT             NOT NULL    -- the whole result as JSON (timings, certificate, error)
);
CREATE INDEX probe_results_by_monitor ON probe_results (monitor, at_ms);

CREATE TABLE probe_hours (
    monitor    TEXT             NOT NULL,
    region     TEXT             NOT NULL,
    hour_ms    BIGINT           NOT NULL,
    probes     BIGINT           NOT NULL,
    failures   BIGINT           NOT NULL,
    total_ms   DOUBLE PRECISION NOT NULL,  -- sum, for the mean latency
    PRIMARY KEY (monitor, region, hour_ms)
);
CREATE INDEX probe_hours_by_time ON probe_hours (hour_ms);

CREATE TABLE monitor_states (
    monitor  TEXT   PRIMARY KEY,
    state    TEXT   NOT NULL,    -- up | down
    since_ms BIGINT NOT NULL,
    cause    TEXT
);
