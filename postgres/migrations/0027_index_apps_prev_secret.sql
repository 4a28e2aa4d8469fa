CREATE INDEX apps_prev_secret ON apps (prev_secret_digest)
