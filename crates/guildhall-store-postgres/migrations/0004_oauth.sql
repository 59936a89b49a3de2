-- Products (OAuth clients), signing keys and authorization codes.

CREATE TABLE products (
    id            UUID PRIMARY KEY NOT NULL,   -- its text form is the client_id
    name          TEXT NOT NULL,
    secret_hash   BYTEA,                        -- SHA-256 of the secret; NULL for public clients
    first_party   BOOLEAN NOT NULL,
    redirect_uris TEXT NOT NULL,             -- one per line, compared exactly
    scopes        TEXT NOT NULL,             -- space-separated, what it may ask for
    grant_types   TEXT NOT NULL,             -- space-separated
    homepage      TEXT,
    owner_id      UUID REFERENCES accounts (id) ON DELETE CASCADE,  -- NULL: registered by the operator
    created_at    BIGINT NOT NULL
);

-- Private keys are sealed with the master key (AES-256-GCM: nonce || ciphertext).
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    alg         TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE authorization_codes (
    code_hash      BYTEA PRIMARY KEY NOT NULL,
    grant_id       UUID NOT NULL,
    product_id     UUID NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    account_id     UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);

-- Grants revoked because their code was replayed (or, later, by the person).
CREATE TABLE revoked_grants (
    grant_id   UUID PRIMARY KEY NOT NULL,
    revoked_at BIGINT NOT NULL
);
