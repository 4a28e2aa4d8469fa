-- The digest of an app's previous secret while a rotation's overlap window is open.
ALTER TABLE apps ADD COLUMN prev_secret_digest BLOB;
