-- A client counts once per service and dedupe window (PostgreSQL: whichever node it
-- reaches; SQLite has one node, and no change feed).

-- The last time each client counted for a service; a report counts only by inserting this
-- row or moving it forward past the dedupe window. Rows older than yesterday's salt can
-- never match again and are pruned.
CREATE TABLE counted_clients (
    service       TEXT    NOT NULL,
    client_hash   BLOB    NOT NULL,
    counted_at_ms INTEGER NOT NULL,
    PRIMARY KEY (service, client_hash)
) WITHOUT ROWID;
-- Clients counted in the last two days (all a dedupe window can reach: salts rotate daily),
-- so an upgrade does not count anyone twice.
INSERT INTO counted_clients (service, client_hash, counted_at_ms)
    SELECT service, client_hash, MAX(received_at_ms) FROM reports
    WHERE counted AND received_at_ms >= CAST(strftime('%s', 'now') AS INTEGER) * 1000 - 172800000
    GROUP BY service, client_hash;
