-- When an operator disabled the app (0: enabled).
ALTER TABLE apps ADD COLUMN disabled_at INTEGER NOT NULL DEFAULT 0;
