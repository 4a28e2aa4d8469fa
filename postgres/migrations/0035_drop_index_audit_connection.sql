DROP INDEX IF EXISTS audit_connection
