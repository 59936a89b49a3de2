-- Workspaces, user groups, repositories, permissions, invitations, personal
-- access tokens and the audit log. Permissions are stored as ranks:
-- 0 none, 1 read, 2 write, 3 admin.

CREATE TABLE workspaces (
    id                             BLOB PRIMARY KEY NOT NULL,
    slug                           TEXT NOT NULL UNIQUE,
    name                           TEXT NOT NULL,
    plan                           TEXT NOT NULL CHECK (plan IN ('free', 'paid')),
    invitations_accept_any_account INTEGER NOT NULL DEFAULT 0,
    -- Bumped by every change that can alter a permission (see insert_audit),
    -- so nodes can tell whether their cached permission index is current.
    version                        INTEGER NOT NULL DEFAULT 0,
    created_at                     INTEGER NOT NULL,
    updated_at                     INTEGER NOT NULL
);

CREATE TABLE groups (
    id                  BLOB PRIMARY KEY NOT NULL,
    workspace_id        BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    slug                TEXT NOT NULL,
    name                TEXT NOT NULL,
    default_permission  INTEGER NOT NULL CHECK (default_permission BETWEEN 0 AND 3),
    is_admins           INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    UNIQUE (workspace_id, slug)
);

CREATE TABLE group_members (
    group_id    BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    account_id  BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX group_members_account ON group_members (account_id);

CREATE TABLE repositories (
    id            BLOB PRIMARY KEY NOT NULL,
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    slug          TEXT NOT NULL,
    name          TEXT NOT NULL,
    private       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, slug)
);

CREATE TABLE group_repository_permissions (
    group_id       BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    repository_id  BLOB NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    permission     INTEGER NOT NULL CHECK (permission BETWEEN 0 AND 3),
    PRIMARY KEY (group_id, repository_id)
);
CREATE INDEX group_repository_permissions_repo ON group_repository_permissions (repository_id);

CREATE TABLE repository_grants (
    repository_id  BLOB NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    account_id     BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    permission     INTEGER NOT NULL CHECK (permission BETWEEN 0 AND 3),
    PRIMARY KEY (repository_id, account_id)
);

CREATE TABLE invitations (
    id            BLOB PRIMARY KEY NOT NULL,
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    token_hash    BLOB NOT NULL UNIQUE,
    email         TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    -- Set when invited by username: shown instead of the (private) email.
    username      TEXT,
    invited_by    BLOB REFERENCES accounts (id) ON DELETE SET NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked')),
    accepted_by   BLOB REFERENCES accounts (id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX invitations_workspace ON invitations (workspace_id, state);

CREATE TABLE invitation_groups (
    invitation_id  BLOB NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    group_id       BLOB NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (invitation_id, group_id)
);

CREATE TABLE access_tokens (
    id            BLOB PRIMARY KEY NOT NULL,
    account_id    BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    BLOB NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    expires_at    INTEGER
);
CREATE INDEX access_tokens_account ON access_tokens (account_id);

CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  BLOB REFERENCES workspaces (id) ON DELETE SET NULL,
    actor_id      BLOB,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL,
    detail        TEXT,
    ip            TEXT,
    at            INTEGER NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id);
