-- What an integration drafted an incident from (`alertmanager:` and a hash of the alert
-- group's key, `webhook:` and the webhook's id), so a repeated or retried notification
-- finds its incident again. At most one open incident per origin: when two nodes take the
-- same notification at once, the second insert does nothing and that node updates the
-- first one's draft instead of drafting again. A nullable column and indexes only, so
-- nodes of the previous version keep working (they write no origin).
ALTER TABLE incidents ADD COLUMN origin TEXT;
CREATE UNIQUE INDEX incidents_open_origin ON incidents (origin)
    WHERE origin IS NOT NULL AND status NOT IN ('resolved', 'completed');
CREATE INDEX incidents_by_origin ON incidents (origin, created_ms) WHERE origin IS NOT NULL;
