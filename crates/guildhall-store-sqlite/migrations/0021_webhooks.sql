-- Webhooks (SPEC §6, docs/webhooks.md): endpoints that admins of a
-- workspace or an org register, and the outbox of their deliveries. The
-- event log is the source: a worker copies each endpoint's new events into
-- deliveries (moving `event_cursor` in the same transaction, with the
-- endpoint row locked), so every event becomes one delivery per endpoint.
CREATE TABLE webhook_endpoints (
    id            BLOB PRIMARY KEY NOT NULL,
    workspace_id  BLOB REFERENCES workspaces (id) ON DELETE CASCADE,
    org_id        BLOB REFERENCES orgs (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    description   TEXT NOT NULL,
    -- Space-separated types (`group.member_added`), families (`group.*`)
    -- or `*`; empty means every type.
    event_types   TEXT NOT NULL,
    -- The signing key, sealed under the master key (AES-256-GCM).
    secret_sealed BLOB NOT NULL,
    -- The last event copied into deliveries (or skipped): set to the latest
    -- event when the endpoint is made or enabled, so history is not replayed.
    event_cursor  INTEGER NOT NULL,
    enabled       INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    CHECK ((workspace_id IS NULL) <> (org_id IS NULL))
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints (workspace_id);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id);

CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY NOT NULL,
    endpoint_id      BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The event delivered (none for a ping).
    event_seq        INTEGER,
    event_type       TEXT NOT NULL,
    -- The `webhook-id` header: the same for every retry and redelivery.
    message_id       TEXT NOT NULL,
    -- The exact body sent (signed anew, with a new timestamp, per attempt).
    body             TEXT NOT NULL,
    -- The delivery this one repeats, when an admin asked for a redelivery.
    redelivery_of    BLOB,
    -- pending | succeeded | failed
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    -- Who is sending it now, and until when others keep off.
    lease_owner      TEXT,
    lease_until      INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
-- One delivery per event and endpoint (redeliveries aside).
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (endpoint_id, event_seq)
    WHERE redelivery_of IS NULL AND event_seq IS NOT NULL;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

-- Every attempt of a delivery: when, the answer's status (none when there
-- was no answer), what went wrong, how long it took.
CREATE TABLE webhook_attempts (
    delivery_id BLOB NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, number)
);
