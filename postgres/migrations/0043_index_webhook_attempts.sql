CREATE INDEX webhook_attempts_event ON webhook_attempts(event_id, n)
