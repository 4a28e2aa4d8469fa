CREATE INDEX tokens_app ON tokens (app_id);
