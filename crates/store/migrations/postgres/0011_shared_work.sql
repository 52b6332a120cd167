-- Several nodes share work: each monitor is probed by one live node
-- per round, and its hysteresis is judged once, in the database.

-- The live nodes, on the database's clock: a node says it is alive every second and is
-- gone after a few seconds of silence (or at once when it leaves). A node joins the
-- partition of monitors a moment after it started, once every node has read its row.
CREATE TABLE nodes (
    id         TEXT   PRIMARY KEY,
    started_ms BIGINT NOT NULL,
    seen_ms    BIGINT NOT NULL
);

-- Each monitor's hysteresis counters. A batch of results locks its monitors' rows (in
-- monitor order), so two nodes judging one monitor take turns and a change is decided once.
CREATE TABLE monitor_judging (
    monitor     TEXT    PRIMARY KEY,
    bad_rounds  BIGINT  NOT NULL DEFAULT 0,
    good_rounds BIGINT  NOT NULL DEFAULT 0
);

-- The change feed says `monitor <id>` when a monitor has new results or a new state, so
-- every node's picture follows the one that stored them.
CREATE FUNCTION downbeat_probes_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('downbeat_changes', 'monitor ' || m.monitor)
        FROM (SELECT DISTINCT monitor FROM new_results) AS m;
    RETURN NULL;
END
$$;
CREATE TRIGGER probes_changed AFTER INSERT ON probe_results
    REFERENCING NEW TABLE AS new_results
    FOR EACH STATEMENT EXECUTE FUNCTION downbeat_probes_changed();

CREATE FUNCTION downbeat_monitor_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('downbeat_changes', 'monitor ' || NEW.monitor);
    RETURN NULL;
END
$$;
CREATE TRIGGER monitor_state_changed AFTER INSERT OR UPDATE ON monitor_states
    FOR EACH ROW EXECUTE FUNCTION downbeat_monitor_state_changed();

-- Leases are judged by the database's clock, and each carries a fencing token that grows
-- whenever the lease changes hands: a write under a lease checks the token (and that the
-- lease has not expired) in its own transaction, so a node that was paused past its lease
-- cannot act on it once another node has taken it.
ALTER TABLE leases ADD COLUMN token BIGINT NOT NULL DEFAULT 1;
