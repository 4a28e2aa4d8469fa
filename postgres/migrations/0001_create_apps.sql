CREATE TABLE apps (
	id                TEXT PRIMARY KEY,
	name              TEXT NOT NULL,
	app_key           TEXT NOT NULL UNIQUE,
	secret_digest     BYTEA NOT NULL UNIQUE,
	created_at        BIGINT NOT NULL,
	secret_rotated_at BIGINT NOT NULL DEFAULT 0,
	updated_at        BIGINT NOT NULL DEFAULT 0,
	allowed_origins   TEXT NOT NULL DEFAULT '[]',
	redirect_uris     TEXT NOT NULL DEFAULT '[]',
	bundle_ids        TEXT NOT NULL DEFAULT '[]'
);
