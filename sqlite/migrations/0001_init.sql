CREATE TABLE apps (
	id                TEXT PRIMARY KEY,
	name              TEXT NOT NULL,
	app_key           TEXT NOT NULL UNIQUE,
	secret_digest     BLOB NOT NULL UNIQUE,
	created_at        INTEGER NOT NULL,
	secret_rotated_at INTEGER NOT NULL DEFAULT 0,
	updated_at        INTEGER NOT NULL DEFAULT 0,
	allowed_origins   TEXT NOT NULL DEFAULT '[]',
	redirect_uris     TEXT NOT NULL DEFAULT '[]',
	bundle_ids        TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE connections (
	id                 TEXT PRIMARY KEY,
	app_id             TEXT NOT NULL REFERENCES apps(id),
	bank_id            TEXT NOT NULL,
	user_id            TEXT NOT NULL,
	client_user_id     TEXT NOT NULL DEFAULT '',
	user_secret_digest BLOB NOT NULL,
	sealed             BLOB NOT NULL,
	created_at         INTEGER NOT NULL,
	delinked_at        INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX connections_app ON connections(app_id);

CREATE TABLE access_codes (
	digest        BLOB PRIMARY KEY,
	app_id        TEXT NOT NULL,
	connection_id TEXT NOT NULL,
	token_id      TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	used_at       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE tokens (
	digest        BLOB PRIMARY KEY,
	id            TEXT NOT NULL UNIQUE,
	app_id        TEXT NOT NULL,
	connection_id TEXT NOT NULL REFERENCES connections(id),
	user_id       TEXT NOT NULL,
	code_digest   BLOB NOT NULL,
	created_at    INTEGER NOT NULL,
	revoked_at    INTEGER NOT NULL DEFAULT 0,
	revoke_reason TEXT NOT NULL DEFAULT ''
);

CREATE INDEX tokens_connection ON tokens(connection_id);

CREATE INDEX tokens_code ON tokens(code_digest);

CREATE TABLE operations (
	id            TEXT PRIMARY KEY,
	app_id        TEXT NOT NULL,
	connection_id TEXT NOT NULL DEFAULT '',
	bank_id       TEXT NOT NULL DEFAULT '',
	endpoint      TEXT NOT NULL,
	status        TEXT NOT NULL,
	error_type    TEXT NOT NULL DEFAULT '',
	state         BLOB,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL
);

CREATE TABLE audit (
	id            TEXT PRIMARY KEY,
	at            INTEGER NOT NULL,
	kind          TEXT NOT NULL,
	app_id        TEXT NOT NULL,
	connection_id TEXT NOT NULL DEFAULT '',
	detail        TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_app ON audit(app_id, at);

CREATE TABLE events (
	stream TEXT NOT NULL,
	seq    INTEGER NOT NULL,
	at     INTEGER NOT NULL,
	body   BLOB NOT NULL,
	PRIMARY KEY (stream, seq)
);
