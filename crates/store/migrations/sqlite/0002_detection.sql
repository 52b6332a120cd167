-- The crowd detector: its state per series (so a restart keeps the baseline), and every
-- verdict change with its evidence.
CREATE TABLE detector_states (
    service           TEXT    NOT NULL,
    series            TEXT    NOT NULL,  -- 'all', 'problem:login', 'platform:ios', 'country:GB'
    state             TEXT    NOT NULL,  -- the detector's serde JSON
    through_minute_ms INTEGER NOT NULL,  -- the last minute fed to it
    PRIMARY KEY (service, series)
) WITHOUT ROWID;

CREATE TABLE verdict_events (
    id          INTEGER PRIMARY KEY,
    service     TEXT    NOT NULL,
    series      TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL,
    verdict     TEXT    NOT NULL,
    previous    TEXT    NOT NULL,
    score       REAL    NOT NULL,
    observed    REAL    NOT NULL,
    expected    REAL    NOT NULL,
    explanation TEXT    NOT NULL,
    evidence    TEXT    NOT NULL   -- JSON
);
CREATE INDEX verdict_events_by_service ON verdict_events (service, at_ms);
