-- Where each built-in poller of a signal source got to (its cursor, conditional-request
-- validators, recently seen posts), as the poller's own JSON: a restart, or another node
-- taking over the poller, goes on from there. A new table only, so nodes of the previous
-- version keep working.
CREATE TABLE poll_states (
    service    TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (service, source)
);
