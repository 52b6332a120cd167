-- Message clusters an operator hid (see the PostgreSQL migration of the same name).
CREATE TABLE hidden_messages (
    service      TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    hidden_by    TEXT    NOT NULL,
    hidden_at_ms INTEGER NOT NULL,
    PRIMARY KEY (service, key)
);
