-- Refresh tokens (offline_access). Each use spends the token and issues the
-- next one of the same grant; presenting a spent one revokes the grant, and
-- so the whole family (RFC 9700 §4.14.2).
CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY NOT NULL,
    grant_id   UUID NOT NULL,
    product_id UUID NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
