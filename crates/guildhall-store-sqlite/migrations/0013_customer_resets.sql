-- Password-reset links a site admin sends a customer (one live per customer).
CREATE TABLE customer_resets (
    token_hash  BLOB PRIMARY KEY NOT NULL,
    customer_id BLOB NOT NULL UNIQUE REFERENCES customers (id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL
);
