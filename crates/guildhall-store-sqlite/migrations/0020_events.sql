-- The event log of directory sync (SPEC §6, ADR 0011): every change to a
-- workspace's or org's directory is written here in the same transaction as
-- the change. Numbers come from a second column of the change counter row,
-- so they are gapless and in commit order like the change feed's, and a
-- transaction that writes events and changes takes one lock, not two.
ALTER TABLE change_counter ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    -- The workspace the event is about, if any (kept after its deletion).
    workspace_id BLOB,
    -- The org the event is about, or the org of the workspace.
    org_id       BLOB,
    type         TEXT NOT NULL,
    data         TEXT NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX events_workspace ON events (workspace_id, seq);
CREATE INDEX events_org ON events (org_id, seq);

-- Directory tokens: bearer tokens an admin makes for an application, owned
-- by a workspace or an org (not by a person), for SCIM and the event log.
CREATE TABLE directory_tokens (
    id           BLOB PRIMARY KEY NOT NULL,
    workspace_id BLOB REFERENCES workspaces (id) ON DELETE CASCADE,
    org_id       BLOB REFERENCES orgs (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    CHECK ((workspace_id IS NULL) <> (org_id IS NULL))
);
CREATE INDEX directory_tokens_workspace ON directory_tokens (workspace_id);
CREATE INDEX directory_tokens_org ON directory_tokens (org_id);
