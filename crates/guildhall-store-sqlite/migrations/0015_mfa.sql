-- Second factors: one TOTP authenticator per account (unconfirmed while
-- being set up), and single-use recovery codes.

CREATE TABLE totp_credentials (
    account_id    BLOB PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The shared secret, AES-256-GCM sealed under the master key.
    secret_sealed BLOB NOT NULL,
    confirmed_at  INTEGER,
    -- The last TOTP step accepted: a step is never accepted twice.
    last_step     INTEGER,
    created_at    INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (account_id, code_hash)
);
