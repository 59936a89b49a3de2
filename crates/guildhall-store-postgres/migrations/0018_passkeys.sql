-- WebAuthn passkeys: second factors, and a passwordless first factor.
CREATE TABLE passkeys (
    id            UUID PRIMARY KEY NOT NULL,
    account_id    UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_id BYTEA NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    -- webauthn-rs's Passkey as JSON: the public key and the signature counter.
    passkey       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_account ON passkeys (account_id);

-- Ceremony states already used (SHA-256 of the sealed state), so an
-- answer cannot be replayed while its state is still fresh.
CREATE TABLE spent_ceremonies (
    state_hash BYTEA PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX spent_ceremonies_expiry ON spent_ceremonies (expires_at);
