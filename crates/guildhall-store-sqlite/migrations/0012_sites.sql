-- Sites with their own customer accounts: email + password, scoped to one
-- site, never merged with global accounts or other sites' customers.
CREATE TABLE sites (
    id         BLOB PRIMARY KEY NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Global accounts that administer a site's customers.
CREATE TABLE site_admins (
    site_id    BLOB NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (site_id, account_id)
);

CREATE TABLE customers (
    id               BLOB PRIMARY KEY NOT NULL,
    site_id          BLOB NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    email            TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    password_hash    TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'deactivated')),
    created_at       INTEGER NOT NULL,
    UNIQUE (site_id, email_normalized)
);

CREATE TABLE customer_sessions (
    token_hash  BLOB PRIMARY KEY NOT NULL,
    customer_id BLOB NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    site_id     BLOB NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX customer_sessions_customer ON customer_sessions (customer_id);
