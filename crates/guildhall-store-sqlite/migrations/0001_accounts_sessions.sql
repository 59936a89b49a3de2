-- Accounts, emailed tokens, sessions and throttle counters.
-- Instants are INTEGER milliseconds since the Unix epoch (docs/adr/0003).

CREATE TABLE accounts (
    id                   BLOB PRIMARY KEY NOT NULL,
    email                TEXT NOT NULL,
    email_normalized     TEXT NOT NULL,
    email_verified_at    INTEGER,
    username             TEXT NOT NULL,
    display_name         TEXT NOT NULL,
    password_hash        TEXT,
    status               TEXT NOT NULL CHECK (status IN ('active', 'deactivated')),
    is_operator          INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    CONSTRAINT accounts_email_normalized_key UNIQUE (email_normalized),
    CONSTRAINT accounts_username_key UNIQUE (username)
);

CREATE TABLE email_tokens (
    token_hash  BLOB PRIMARY KEY NOT NULL,
    account_id  BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX email_tokens_account ON email_tokens (account_id, purpose);

CREATE TABLE sessions (
    id            BLOB PRIMARY KEY NOT NULL,
    token_hash    BLOB NOT NULL UNIQUE,
    account_id    BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    auth_time     INTEGER NOT NULL,
    amr           TEXT NOT NULL,
    ip            TEXT,
    user_agent    TEXT
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE throttles (
    key           TEXT PRIMARY KEY NOT NULL,
    hits          INTEGER NOT NULL,
    window_start  INTEGER NOT NULL,
    locked_until  INTEGER
);
