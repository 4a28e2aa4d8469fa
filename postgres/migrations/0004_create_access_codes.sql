CREATE TABLE access_codes (
	digest        BYTEA PRIMARY KEY,
	app_id        TEXT NOT NULL,
	connection_id TEXT NOT NULL,
	token_id      TEXT NOT NULL,
	created_at    BIGINT NOT NULL,
	expires_at    BIGINT NOT NULL,
	used_at       BIGINT NOT NULL DEFAULT 0
);
