-- When an endpoint's current run of failed attempts began (unix ms; NULL
-- after a success): an endpoint failing for `DISABLE_AFTER` is disabled
-- (docs/webhooks.md).
ALTER TABLE webhook_endpoints ADD COLUMN failing_since BIGINT;
