-- The change feed also carries products and OAuth grants (revoked), so
-- nodes can keep both in memory (ADR 0006).
ALTER TABLE changes DROP CONSTRAINT changes_kind_check;
ALTER TABLE changes ADD CONSTRAINT changes_kind_check CHECK (kind IN ('workspace', 'account', 'product', 'grant'));
