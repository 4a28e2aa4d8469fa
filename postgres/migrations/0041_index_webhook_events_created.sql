CREATE INDEX webhook_events_created ON webhook_events(created_at)
