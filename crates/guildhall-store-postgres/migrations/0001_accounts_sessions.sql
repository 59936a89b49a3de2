-- Accounts, emailed tokens, sessions and throttle counters.
-- Instants are BIGINT milliseconds since the Unix epoch (docs/adr/0003).

CREATE TABLE accounts (
    id                   UUID PRIMARY KEY,
    email                TEXT NOT NULL,
    email_normalized     TEXT NOT NULL,
    email_verified_at    BIGINT,
    username             TEXT COLLATE "C" NOT NULL,
    display_name         TEXT NOT NULL,
    password_hash        TEXT,
    status               TEXT NOT NULL CHECK (status IN ('active', 'deactivated')),
    is_operator          BOOLEAN NOT NULL DEFAULT FALSE,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    CONSTRAINT accounts_email_normalized_key UNIQUE (email_normalized),
    CONSTRAINT accounts_username_key UNIQUE (username)
);

CREATE TABLE email_tokens (
    token_hash  BYTEA PRIMARY KEY,
    account_id  UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX email_tokens_account ON email_tokens (account_id, purpose);

CREATE TABLE sessions (
    id            UUID PRIMARY KEY,
    token_hash    BYTEA NOT NULL UNIQUE,
    account_id    UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    auth_time     BIGINT NOT NULL,
    amr           TEXT NOT NULL,
    ip            TEXT,
    user_agent    TEXT
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE throttles (
    key           TEXT PRIMARY KEY,
    hits          INTEGER NOT NULL,
    window_start  BIGINT NOT NULL,
    locked_until  BIGINT
);
