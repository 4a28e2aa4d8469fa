-- The webhook outbox: written in the same transaction as the change each
-- event announces, claimed with FOR UPDATE SKIP LOCKED and a lease.
CREATE TABLE webhook_events (
	seq           BIGSERIAL PRIMARY KEY,
	id            TEXT NOT NULL UNIQUE,
	app_id        TEXT NOT NULL,
	connection_id TEXT NOT NULL DEFAULT '',
	type          TEXT NOT NULL,
	created_at    BIGINT NOT NULL,
	data          BYTEA NOT NULL,
	private       BYTEA NOT NULL,
	due_at        BIGINT NOT NULL,
	since         BIGINT NOT NULL,
	next_at       BIGINT NOT NULL,
	status        TEXT NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	lease_until   BIGINT NOT NULL DEFAULT 0,
	lease_owner   TEXT NOT NULL DEFAULT '',
	delivered_at  BIGINT NOT NULL DEFAULT 0,
	last_error    TEXT NOT NULL DEFAULT '',
	last_status   INTEGER NOT NULL DEFAULT 0
)
