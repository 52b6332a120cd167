-- The page's cities and messages read only the counted reports that name a city or carry a
-- message: each has its own partial index, so building a page reads those rows, not every
-- report of the window (a wave of reports without either no longer slows every node's page
-- rebuilds). Indexes only, so nodes of the previous version keep working.
CREATE INDEX reports_with_city ON reports (service, received_at_ms)
    WHERE counted AND city IS NOT NULL;
CREATE INDEX reports_with_message ON reports (service, received_at_ms)
    WHERE counted AND message IS NOT NULL;
