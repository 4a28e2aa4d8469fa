CREATE INDEX events_id ON events (id)
