-- Products linked to a workspace: their own credentials (hashed) to report
-- new users, and the groups those users are invited to automatically.
CREATE TABLE product_links (
    id             BLOB PRIMARY KEY NOT NULL,
    workspace_id   BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    slug           TEXT NOT NULL,
    name           TEXT NOT NULL,
    secret_hash    BLOB NOT NULL UNIQUE,
    -- Group slugs, space-separated; empty = automatic invitations off.
    default_groups TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (workspace_id, slug)
);

-- Which link caused an invitation (NULL: an administrator).
ALTER TABLE invitations ADD COLUMN link_id BLOB REFERENCES product_links (id) ON DELETE SET NULL;
