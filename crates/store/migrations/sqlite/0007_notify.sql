-- Public subscribers: visitors who asked for a service's incidents and maintenance by mail
-- (after confirming the address) or at a webhook endpoint. Unsubscribing deletes the row.
CREATE TABLE notify_subscribers (
    id              INTEGER PRIMARY KEY,
    service         TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('email', 'webhook')),
    address         TEXT    NOT NULL,   -- a mail address (lowercase) or an http(s) URL
    components      TEXT    NOT NULL DEFAULT '',   -- comma-separated ids; empty: the whole service
    secret          TEXT,               -- webhook: signs each body (needed in clear to sign)
    created_ms      INTEGER NOT NULL,
    confirmed_ms    INTEGER,            -- email: null until the confirmation link is used
    confirm_sent_ms INTEGER,            -- the last confirmation mail queued (re-sends are limited)
    UNIQUE (service, kind, address)
);
CREATE INDEX notify_subscribers_service ON notify_subscribers (service, confirmed_ms);

-- The links that manage a subscription. Every mail carries a fresh random token; only its
-- SHA-256 is kept, so the table cannot be used to manage anyone's subscription.
CREATE TABLE notify_subscriber_tokens (
    hash        TEXT    PRIMARY KEY,
    subscriber  INTEGER NOT NULL REFERENCES notify_subscribers (id) ON DELETE CASCADE,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX notify_subscriber_tokens_subscriber ON notify_subscriber_tokens (subscriber);

-- Pruning settled deliveries past retention.
CREATE INDEX notify_deliveries_settled ON notify_deliveries (state, created_ms);

-- Flap suppression per monitor (its recent changes, the episode being held), so a restart
-- neither repeats a flapping notice nor forgets the summary it owes.
CREATE TABLE notify_flaps (
    monitor     TEXT    PRIMARY KEY,
    state       TEXT    NOT NULL,   -- JSON
    updated_ms  INTEGER NOT NULL
);
