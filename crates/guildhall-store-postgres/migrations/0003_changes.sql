-- The change feed (ADR 0006): every write that can make a node's cache
-- wrong records what it changed, numbered in commit order, so every node
-- (and the server while the CLI writes) can drop exactly what is stale.
-- Writers take the next number from the counter row inside their
-- transaction: the row lock, held until commit, keeps the numbers gapless
-- and in commit order (a sequence would not).

CREATE TABLE change_counter (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO change_counter (id, seq) VALUES (1, 0);

CREATE TABLE changes (
    seq     BIGINT PRIMARY KEY,
    kind    TEXT NOT NULL CHECK (kind IN ('workspace', 'account')),
    subject UUID NOT NULL
);
