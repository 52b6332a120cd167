-- Community comments on a service's public page, and the networks an operator paused.
-- Comments are never reports: nothing here is counted. Like reports, a comment keeps only
-- keyed hashes (daily salt) of its client's address and of its /24 or /48 network. New
-- tables only, so nodes of the previous version keep working.
CREATE TABLE comments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service      TEXT   NOT NULL,
    created_ms   BIGINT NOT NULL,
    text         TEXT   NOT NULL,
    client_hash  BYTEA  NOT NULL,
    network_hash BYTEA  NOT NULL,
    state        TEXT   NOT NULL CHECK (state IN ('pending', 'shown', 'hidden')),
    -- who approved or hid it last, and when
    moderated_by TEXT,
    moderated_ms BIGINT
);
CREATE INDEX comments_by_state ON comments (service, state, created_ms);

-- A network whose comments a service refuses until `until_ms`, by the network hash of the
-- comment it was paused for. That hash is keyed by its day's salt, so a ban cannot reach
-- past the day after that comment's.
CREATE TABLE banned_networks (
    service      TEXT   NOT NULL,
    network_hash BYTEA  NOT NULL,
    until_ms     BIGINT NOT NULL,
    banned_by    TEXT   NOT NULL,
    PRIMARY KEY (service, network_hash)
);
