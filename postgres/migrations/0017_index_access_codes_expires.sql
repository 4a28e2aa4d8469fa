CREATE INDEX access_codes_expires ON access_codes (expires_at)
