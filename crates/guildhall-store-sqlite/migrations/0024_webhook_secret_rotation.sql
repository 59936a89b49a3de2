-- Webhook secret rotation (docs/webhooks.md): the secret a rotation
-- replaced keeps signing, beside the new one, until `previous_secret_until`
-- (unix ms), so receivers can switch without dropping a delivery.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_sealed BLOB;
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_until INTEGER;
