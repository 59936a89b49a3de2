-- SCIM 2.0 (ADR 0011). An org's own directory provisions its managed
-- accounts: what it calls them (userName, often an address, which is not a
-- Guildhall username; externalId), and whether it deleted them
-- (a deleted account is deactivated and no longer listed, so a GET of it
-- answers 404 as RFC 7644 §3.6 asks; provisioning it again brings it back).
CREATE TABLE scim_accounts (
    account_id  UUID PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    org_id      UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_name   TEXT NOT NULL,
    -- userName lowercased: unique in the org (RFC 7643 §4.1); NULL once deleted.
    user_name_key TEXT,
    external_id TEXT,
    -- The directory's last write (name, emails…), shown back as JSON.
    attributes  TEXT,
    deleted_at  BIGINT
);
CREATE UNIQUE INDEX scim_accounts_user_name ON scim_accounts (org_id, user_name_key);

-- An org's directory groups, written by its identity provider over SCIM.
CREATE TABLE org_groups (
    id           UUID PRIMARY KEY NOT NULL,
    org_id       UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    external_id  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (org_id, display_name)
);

CREATE TABLE org_group_members (
    group_id   UUID NOT NULL REFERENCES org_groups (id) ON DELETE CASCADE,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX org_group_members_account ON org_group_members (account_id);
