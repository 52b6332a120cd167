-- External signals (posts about a service's trouble, from configured sources): a per-minute
-- series per source, and the posts themselves. New tables, so nodes of the previous version
-- keep working.

-- `counted`: the count a source last gave for the minute (a count is replaced, so a retried
-- batch changes nothing); `posts`: posts stored for it (each post once).
CREATE TABLE signal_minutes (
    service   TEXT   NOT NULL,
    source    TEXT   NOT NULL,
    minute_ms BIGINT NOT NULL,
    counted   BIGINT NOT NULL DEFAULT 0,
    posts     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (service, source, minute_ms)
);
CREATE INDEX signal_minutes_by_time ON signal_minutes (minute_ms);

-- A post is kept once per source: `key` is its URL, or a digest of its time and text.
CREATE TABLE signal_posts (
    service     TEXT   NOT NULL,
    source      TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    at_ms       BIGINT NOT NULL,
    text        TEXT   NOT NULL,
    url         TEXT,
    lang        TEXT,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (service, source, key)
);
CREATE INDEX signal_posts_by_time ON signal_posts (service, at_ms);
