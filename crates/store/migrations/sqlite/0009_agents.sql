-- Agents bound to their regions, a result stored once, a monitor change told once.
--
-- An API token names the regions it may push agent results for (space-separated slugs;
-- empty: none — a token issued before this version must be issued again with --region).
ALTER TABLE api_tokens ADD COLUMN regions TEXT NOT NULL DEFAULT '';

-- One result per monitor, region and start time: a retried push is stored once. Copies
-- that slipped in before are dropped, the first one kept (their roll-ups stay as counted).
DELETE FROM probe_results WHERE id NOT IN
    (SELECT MIN(id) FROM probe_results GROUP BY monitor, region, at_ms);
CREATE UNIQUE INDEX probe_results_once ON probe_results (monitor, region, at_ms);

-- Whether the notifier has the state's change (queued, or held back as flapping): a change
-- saved but not yet queued is queued again, after a failure or at the next start.
ALTER TABLE monitor_states ADD COLUMN notified INTEGER NOT NULL DEFAULT 1 CHECK (notified IN (0, 1));
