-- When an operator revoked the connection (0: never).
ALTER TABLE connections ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0
