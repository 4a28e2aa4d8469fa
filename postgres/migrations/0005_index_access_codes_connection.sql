CREATE INDEX access_codes_connection ON access_codes (connection_id);
