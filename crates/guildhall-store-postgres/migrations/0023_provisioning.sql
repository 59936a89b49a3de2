-- Outbound SCIM provisioning (SPEC §6, docs/provisioning.md): a workspace or
-- an org pushes its people and groups to an application's SCIM endpoint.
-- A round reconciles the application with the directory; rounds run when
-- the scope's event log moves past `event_cursor`, or when one is due
-- (`next_attempt_at`: the first sync, a retry, "sync now"). One node at a
-- time holds a connection (`lease_owner` until `lease_until`).
CREATE TABLE scim_connections (
    id              UUID PRIMARY KEY NOT NULL,
    workspace_id    UUID REFERENCES workspaces (id) ON DELETE CASCADE,
    org_id          UUID REFERENCES orgs (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    base_url        TEXT NOT NULL,
    -- The application's bearer token, sealed under the master key (AES-256-GCM).
    token_sealed    BYTEA NOT NULL,
    enabled         BOOLEAN NOT NULL,
    -- The last event of the scope reflected downstream.
    event_cursor    BIGINT NOT NULL DEFAULT 0,
    -- pending | in_sync | error
    status          TEXT NOT NULL,
    last_error      TEXT,
    last_synced_at  BIGINT,
    last_attempt_at BIGINT,
    next_attempt_at BIGINT,
    -- When a full round (every resource pushed again) was asked for.
    full_sync_at    BIGINT,
    -- Failed rounds in a row (the backoff's exponent).
    failures        INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CHECK ((workspace_id IS NULL) <> (org_id IS NULL))
);
CREATE INDEX scim_connections_workspace ON scim_connections (workspace_id);
CREATE INDEX scim_connections_org ON scim_connections (org_id);

-- What a connection pushed: a local account or group and the application's
-- id for it, with the fingerprint of the resource last sent.
CREATE TABLE scim_connection_objects (
    connection_id UUID NOT NULL REFERENCES scim_connections (id) ON DELETE CASCADE,
    -- user | group
    kind          TEXT NOT NULL,
    local_id      UUID NOT NULL,
    remote_id     TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    active        BOOLEAN NOT NULL,
    PRIMARY KEY (connection_id, kind, local_id)
);
-- One local object per remote resource.
CREATE UNIQUE INDEX scim_connection_objects_remote ON scim_connection_objects (connection_id, kind, remote_id);
