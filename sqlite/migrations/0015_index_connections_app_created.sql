CREATE INDEX connections_app_created ON connections (app_id, created_at);
