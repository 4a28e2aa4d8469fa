CREATE INDEX webhook_events_next ON webhook_events(next_at) WHERE status = 'pending'
