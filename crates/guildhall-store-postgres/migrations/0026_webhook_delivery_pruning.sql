-- Finished deliveries (succeeded or given up) by when they finished: the
-- pruning job deletes those older than the retention window
-- (`webhook_delivery_retention_days`, docs/webhooks.md).
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE finished_at IS NOT NULL;
