CREATE INDEX access_codes_app_unused ON access_codes (app_id) WHERE used_at = 0
