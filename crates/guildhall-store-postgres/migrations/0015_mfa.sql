-- Second factors: one TOTP authenticator per account (unconfirmed while
-- being set up), and single-use recovery codes.

CREATE TABLE totp_credentials (
    account_id    UUID PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The shared secret, AES-256-GCM sealed under the master key.
    secret_sealed BYTEA NOT NULL,
    confirmed_at  BIGINT,
    -- The last TOTP step accepted: a step is never accepted twice.
    last_step     BIGINT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  BYTEA NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (account_id, code_hash)
);
