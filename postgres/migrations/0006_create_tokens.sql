CREATE TABLE tokens (
	digest        BYTEA PRIMARY KEY,
	id            TEXT NOT NULL UNIQUE,
	app_id        TEXT NOT NULL,
	connection_id TEXT NOT NULL REFERENCES connections(id),
	user_id       TEXT NOT NULL,
	code_digest   BYTEA NOT NULL,
	created_at    BIGINT NOT NULL,
	revoked_at    BIGINT NOT NULL DEFAULT 0,
	revoke_reason TEXT NOT NULL DEFAULT ''
);
