CREATE INDEX webhook_events_app ON webhook_events(app_id, seq)
