-- External identity providers kept in the database (operators' and
-- organizations'), and the external identities connected to accounts.

CREATE TABLE identity_providers (
    name          TEXT PRIMARY KEY NOT NULL,
    -- Set for an organization's provider (one per organization).
    org_id        BLOB UNIQUE REFERENCES orgs (id) ON DELETE CASCADE,
    config        TEXT NOT NULL,
    -- The client secret, AES-256-GCM sealed under the master key.
    secret_sealed BLOB NOT NULL,
    required      INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL
);

-- One (provider, subject) belongs to at most one account. No foreign key to
-- the provider: providers from the config file live only in memory.
CREATE TABLE external_identities (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email      TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX external_identities_account ON external_identities (account_id);
