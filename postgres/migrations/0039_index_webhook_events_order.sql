CREATE INDEX webhook_events_order ON webhook_events(app_id, connection_id, due_at, seq) WHERE status = 'pending'
