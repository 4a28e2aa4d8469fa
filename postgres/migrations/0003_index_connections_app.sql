CREATE INDEX connections_app ON connections (app_id);
