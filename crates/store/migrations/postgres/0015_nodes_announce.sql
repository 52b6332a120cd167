-- Nodes announce their own writes of reports and probe results, a few times a second
-- (postgres/announce.rs), where these triggers notified at every batch's commit: a NOTIFY
-- holds a lock on the whole database through its transaction's commit, so every node's
-- batches queued behind one another. Connections of nodes that announce set
-- `downbeat.announces`; the triggers stay for nodes of earlier releases, which do not.
CREATE OR REPLACE FUNCTION downbeat_reports_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('downbeat.announces', true) = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('downbeat_changes', 'reports ' || s.service)
        FROM (SELECT DISTINCT service FROM new_reports WHERE counted) AS s;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION downbeat_probes_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('downbeat.announces', true) = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('downbeat_changes', 'monitor ' || m.monitor)
        FROM (SELECT DISTINCT monitor FROM new_results) AS m;
    RETURN NULL;
END
$$;
