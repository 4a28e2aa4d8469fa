CREATE INDEX operations_expires ON operations (expires_at);
