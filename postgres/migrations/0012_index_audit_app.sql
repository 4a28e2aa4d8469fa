CREATE INDEX audit_app ON audit (app_id, at);
