-- Community comments and paused networks (see the PostgreSQL migration of the same name).
CREATE TABLE comments (
    id           INTEGER PRIMARY KEY,
    service      TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    text         TEXT    NOT NULL,
    client_hash  BLOB    NOT NULL,
    network_hash BLOB    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'shown', 'hidden')),
    moderated_by TEXT,
    moderated_ms INTEGER
);
CREATE INDEX comments_by_state ON comments (service, state, created_ms);

CREATE TABLE banned_networks (
    service      TEXT    NOT NULL,
    network_hash BLOB    NOT NULL,
    until_ms     INTEGER NOT NULL,
    banned_by    TEXT    NOT NULL,
    PRIMARY KEY (service, network_hash)
);
