-- When an operator disabled the app (0: enabled).
ALTER TABLE apps ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0
