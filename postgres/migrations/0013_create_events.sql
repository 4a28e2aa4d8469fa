CREATE TABLE events (
	stream TEXT NOT NULL,
	seq    BIGINT NOT NULL,
	at     BIGINT NOT NULL,
	body   BYTEA NOT NULL,
	PRIMARY KEY (stream, seq)
);
