-- id is a UUIDv7 made in Go; as a UUID it orders by time byte-wise,
-- independently of the database's text collation.
CREATE TABLE audit (
	id            UUID PRIMARY KEY,
	at            BIGINT NOT NULL,
	kind          TEXT NOT NULL,
	app_id        TEXT NOT NULL,
	connection_id TEXT NOT NULL DEFAULT '',
	detail        TEXT NOT NULL DEFAULT ''
);
