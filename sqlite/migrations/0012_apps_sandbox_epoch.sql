-- How often an operator reset the app's sandbox world; each value names a world.
ALTER TABLE apps ADD COLUMN sandbox_epoch INTEGER NOT NULL DEFAULT 0;
