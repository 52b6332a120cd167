-- Monitors judged in the store (SQLite has one node; PostgreSQL shares these among several).

-- The live nodes (kept for the schema's sake: a SQLite store has one node).
CREATE TABLE nodes (
    id         TEXT    PRIMARY KEY,
    started_ms INTEGER NOT NULL,
    seen_ms    INTEGER NOT NULL
);

-- Each monitor's hysteresis counters, judged with its results in one transaction.
CREATE TABLE monitor_judging (
    monitor     TEXT    PRIMARY KEY,
    bad_rounds  INTEGER NOT NULL DEFAULT 0,
    good_rounds INTEGER NOT NULL DEFAULT 0
);

-- Each lease carries a fencing token that grows whenever the lease changes hands; writes
-- under a lease check it (one node here, but the same code as PostgreSQL's).
ALTER TABLE leases ADD COLUMN token INTEGER NOT NULL DEFAULT 1;
