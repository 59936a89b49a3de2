-- Password-reset links a site admin sends a customer (one live per customer).
CREATE TABLE customer_resets (
    token_hash  BYTEA PRIMARY KEY NOT NULL,
    customer_id UUID NOT NULL UNIQUE REFERENCES customers (id) ON DELETE CASCADE,
    expires_at  BIGINT NOT NULL
);
