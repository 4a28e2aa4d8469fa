CREATE TABLE operations (
	id            TEXT PRIMARY KEY,
	app_id        TEXT NOT NULL,
	connection_id TEXT NOT NULL DEFAULT '',
	bank_id       TEXT NOT NULL DEFAULT '',
	endpoint      TEXT NOT NULL,
	status        TEXT NOT NULL,
	error_type    TEXT NOT NULL DEFAULT '',
	state         BYTEA,
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL,
	expires_at    BIGINT NOT NULL
);
