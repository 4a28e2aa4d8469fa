-- Every webhook delivery attempt, whatever its outcome.
CREATE TABLE webhook_attempts (
	event_id    TEXT NOT NULL,
	n           INTEGER NOT NULL,
	at          BIGINT NOT NULL,
	duration_ns BIGINT NOT NULL,
	status_code INTEGER NOT NULL,
	error       TEXT NOT NULL,
	instance    TEXT NOT NULL
)
