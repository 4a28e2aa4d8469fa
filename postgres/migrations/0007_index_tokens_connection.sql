CREATE INDEX tokens_connection ON tokens (connection_id);
