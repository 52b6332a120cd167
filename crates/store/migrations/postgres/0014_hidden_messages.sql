-- Message clusters an operator hid: never shown again, whoever types them (by the cluster's
-- normalised key). A new table, so nodes of the previous version keep working.
CREATE TABLE hidden_messages (
    service      TEXT   NOT NULL,
    key          TEXT   NOT NULL,
    hidden_by    TEXT   NOT NULL,
    hidden_at_ms BIGINT NOT NULL,
    PRIMARY KEY (service, key)
);
