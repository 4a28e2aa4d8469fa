-- When the connection's token last authenticated a call (at most once a minute per instance).
ALTER TABLE connections ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0
