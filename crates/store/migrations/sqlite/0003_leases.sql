-- Work that must run on one node at a time (crowd detection, probe ownership, notification
-- delivery) is coordinated through leases: a named lease held by one node until it expires.
CREATE TABLE leases (
    name          TEXT    PRIMARY KEY,
    holder        TEXT    NOT NULL,
    expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
