-- The change feed also carries products and OAuth grants (revoked), so
-- nodes can keep both in memory (ADR 0006). SQLite cannot alter a CHECK
-- constraint: the table is rebuilt with its rows.
CREATE TABLE changes_new (
    seq     INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL CHECK (kind IN ('workspace', 'account', 'product', 'grant')),
    subject BLOB NOT NULL
);
INSERT INTO changes_new (seq, kind, subject) SELECT seq, kind, subject FROM changes;
DROP TABLE changes;
ALTER TABLE changes_new RENAME TO changes;
