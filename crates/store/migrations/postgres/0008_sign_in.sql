-- Sign-in lock-outs per (user, client address) instead of per user: user names are public
-- (incident authors), so a per-user lock let anyone lock every operator out. And which
-- users the config file wrote, so one removed from the file can be removed from the store.
ALTER TABLE users ADD COLUMN from_config BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users DROP COLUMN failed_logins;
ALTER TABLE users DROP COLUMN locked_until_ms;

CREATE TABLE login_failures (
    user_name       TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    client          TEXT    NOT NULL,   -- an IPv4 address, or an IPv6 /64
    failures        BIGINT  NOT NULL,   -- since the last success from this client
    last_failure_ms BIGINT  NOT NULL,
    locked_until_ms BIGINT,
    PRIMARY KEY (user_name, client)
);
-- Forgetting old failures.
CREATE INDEX login_failures_last ON login_failures (last_failure_ms);

-- Sessions of a user whose password changes end with it.
CREATE INDEX sessions_user ON sessions (user_name);
