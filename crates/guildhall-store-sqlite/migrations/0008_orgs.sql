-- Organizations, their admins, the email domains they verify through DNS,
-- the accounts they manage, and their audit log.

CREATE TABLE orgs (
    id         BLOB PRIMARY KEY NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE org_admins (
    org_id     BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, account_id)
);
CREATE INDEX org_admins_account ON org_admins (account_id);

-- A domain may be claimed by several orgs, but verified by one at most.
CREATE TABLE org_domains (
    org_id      BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    domain      TEXT NOT NULL,
    token       TEXT NOT NULL,
    verified_at INTEGER,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, domain)
);
CREATE UNIQUE INDEX org_domains_verified ON org_domains (domain) WHERE verified_at IS NOT NULL;

ALTER TABLE accounts ADD COLUMN managed_by BLOB REFERENCES orgs (id) ON DELETE SET NULL;
CREATE INDEX accounts_managed_by ON accounts (managed_by);

CREATE TABLE org_audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id   BLOB NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    actor_id BLOB,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    detail   TEXT,
    ip       TEXT,
    at       INTEGER NOT NULL
);
CREATE INDEX org_audit_log_org ON org_audit_log (org_id, id);
