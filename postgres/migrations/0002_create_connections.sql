CREATE TABLE connections (
	id                 TEXT PRIMARY KEY,
	app_id             TEXT NOT NULL REFERENCES apps(id),
	bank_id            TEXT NOT NULL,
	user_id            TEXT NOT NULL,
	client_user_id     TEXT NOT NULL DEFAULT '',
	user_secret_digest BYTEA NOT NULL,
	sealed             BYTEA NOT NULL,
	created_at         BIGINT NOT NULL,
	delinked_at        BIGINT NOT NULL DEFAULT 0
);
