CREATE INDEX audit_at ON audit (at)
