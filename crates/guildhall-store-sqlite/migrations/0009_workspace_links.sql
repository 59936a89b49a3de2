-- A workspace linked to an organization, permanently (only the operator's
-- `guildhall admin workspace unlink` clears it).
ALTER TABLE workspaces ADD COLUMN org_id BLOB REFERENCES orgs (id);
ALTER TABLE workspaces ADD COLUMN linked_at INTEGER;
CREATE INDEX workspaces_org ON workspaces (org_id);
