CREATE INDEX audit_connection ON audit (connection_id, at)
