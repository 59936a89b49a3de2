-- Workspaces, user groups, repositories, permissions, invitations, personal
-- access tokens and the audit log. Permissions are stored as ranks:
-- 0 none, 1 read, 2 write, 3 admin.

CREATE TABLE workspaces (
    id                             UUID PRIMARY KEY,
    slug                           TEXT NOT NULL UNIQUE,
    name                           TEXT NOT NULL,
    plan                           TEXT NOT NULL CHECK (plan IN ('free', 'paid')),
    invitations_accept_any_account BOOLEAN NOT NULL DEFAULT FALSE,
    -- Bumped by every change that can alter a permission (see insert_audit),
    -- so nodes can tell whether their cached permission index is current.
    version                        BIGINT NOT NULL DEFAULT 0,
    created_at                     BIGINT NOT NULL,
    updated_at                     BIGINT NOT NULL
);

CREATE TABLE groups (
    id                  UUID PRIMARY KEY,
    workspace_id        UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    slug                TEXT NOT NULL,
    name                TEXT NOT NULL,
    default_permission  SMALLINT NOT NULL CHECK (default_permission BETWEEN 0 AND 3),
    is_admins           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          BIGINT NOT NULL,
    UNIQUE (workspace_id, slug)
);

CREATE TABLE group_members (
    group_id    UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    account_id  UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    added_at    BIGINT NOT NULL,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX group_members_account ON group_members (account_id);

CREATE TABLE repositories (
    id            UUID PRIMARY KEY,
    workspace_id  UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    slug          TEXT NOT NULL,
    name          TEXT NOT NULL,
    private       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT NOT NULL,
    UNIQUE (workspace_id, slug)
);

CREATE TABLE group_repository_permissions (
    group_id       UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    repository_id  UUID NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    permission     SMALLINT NOT NULL CHECK (permission BETWEEN 0 AND 3),
    PRIMARY KEY (group_id, repository_id)
);
CREATE INDEX group_repository_permissions_repo ON group_repository_permissions (repository_id);

CREATE TABLE repository_grants (
    repository_id  UUID NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    account_id     UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    permission     SMALLINT NOT NULL CHECK (permission BETWEEN 0 AND 3),
    PRIMARY KEY (repository_id, account_id)
);

CREATE TABLE invitations (
    id            UUID PRIMARY KEY,
    workspace_id  UUID NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    token_hash    BYTEA NOT NULL UNIQUE,
    email         TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    -- Set when invited by username: shown instead of the (private) email.
    username      TEXT,
    invited_by    UUID REFERENCES accounts (id) ON DELETE SET NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked')),
    accepted_by   UUID REFERENCES accounts (id) ON DELETE SET NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX invitations_workspace ON invitations (workspace_id, state);

CREATE TABLE invitation_groups (
    invitation_id  UUID NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    group_id       UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (invitation_id, group_id)
);

CREATE TABLE access_tokens (
    id            UUID PRIMARY KEY,
    account_id    UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    BYTEA NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    expires_at    BIGINT
);
CREATE INDEX access_tokens_account ON access_tokens (account_id);

CREATE TABLE audit_log (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  UUID REFERENCES workspaces (id) ON DELETE SET NULL,
    actor_id      UUID,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    target        TEXT NOT NULL,
    detail        TEXT,
    ip            TEXT,
    at            BIGINT NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id);
