-- What a person allowed a third-party product (scopes), remembered so the
-- consent screen is shown once; revoking it also revokes the product's
-- refresh-token families for that person.
CREATE TABLE consents (
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    product_id BLOB NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, product_id)
);
