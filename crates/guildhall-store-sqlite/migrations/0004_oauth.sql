-- Products (OAuth clients), signing keys and authorization codes.

CREATE TABLE products (
    id            BLOB PRIMARY KEY NOT NULL,   -- its text form is the client_id
    name          TEXT NOT NULL,
    secret_hash   BLOB,                        -- SHA-256 of the secret; NULL for public clients
    first_party   INTEGER NOT NULL,
    redirect_uris TEXT NOT NULL,             -- one per line, compared exactly
    scopes        TEXT NOT NULL,             -- space-separated, what it may ask for
    grant_types   TEXT NOT NULL,             -- space-separated
    homepage      TEXT,
    owner_id      BLOB REFERENCES accounts (id) ON DELETE CASCADE,  -- NULL: registered by the operator
    created_at    INTEGER NOT NULL
);

-- Private keys are sealed with the master key (AES-256-GCM: nonce || ciphertext).
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    alg         TEXT NOT NULL,
    private_key BLOB NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE authorization_codes (
    code_hash      BLOB PRIMARY KEY NOT NULL,
    grant_id       BLOB NOT NULL,
    product_id     BLOB NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    account_id     BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
);

-- Grants revoked because their code was replayed (or, later, by the person).
CREATE TABLE revoked_grants (
    grant_id   BLOB PRIMARY KEY NOT NULL,
    revoked_at INTEGER NOT NULL
);
