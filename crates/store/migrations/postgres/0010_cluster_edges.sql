-- Several nodes on one database: a client counts once per service and dedupe window
-- whichever node it reaches, and every node hears of the changes another one makes.

-- The last time each client counted for a service. The primary key is what makes a count
-- unique across nodes: a report counts only by inserting this row or moving it forward past
-- the dedupe window, which one transaction at a time can do (see reports/postgres.rs). Rows
-- older than yesterday's salt can never match again and are pruned.
CREATE TABLE counted_clients (
    service       TEXT   NOT NULL,
    client_hash   BYTEA  NOT NULL,
    counted_at_ms BIGINT NOT NULL,
    PRIMARY KEY (service, client_hash)
);
-- Clients counted in the last two days (all a dedupe window can reach: salts rotate daily),
-- so an upgrade does not count anyone twice.
INSERT INTO counted_clients (service, client_hash, counted_at_ms)
    SELECT service, client_hash, MAX(received_at_ms) FROM reports
    WHERE counted AND received_at_ms >= CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT) - 172800000
    GROUP BY service, client_hash;

-- The change feed (LISTEN downbeat_changes; see postgres/changes.rs): sent at commit, so a
-- node hears of a change only once it is there to read. Payloads: `reports <service>` when
-- counted reports were committed, `incidents <service>` when an incident or maintenance
-- window changed; nodes add `node <id>` heartbeats themselves. Equal payloads of one
-- transaction are delivered once.
CREATE FUNCTION downbeat_reports_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('downbeat_changes', 'reports ' || s.service)
        FROM (SELECT DISTINCT service FROM new_reports WHERE counted) AS s;
    RETURN NULL;
END
$$;
CREATE TRIGGER reports_changed AFTER INSERT ON reports
    REFERENCING NEW TABLE AS new_reports
    FOR EACH STATEMENT EXECUTE FUNCTION downbeat_reports_changed();

CREATE FUNCTION downbeat_incidents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('downbeat_changes', 'incidents ' || OLD.service);
    ELSE
        PERFORM pg_notify('downbeat_changes', 'incidents ' || NEW.service);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER incidents_changed AFTER INSERT OR UPDATE OR DELETE ON incidents
    FOR EACH ROW EXECUTE FUNCTION downbeat_incidents_changed();
