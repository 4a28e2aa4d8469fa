-- Webhooks: each app's registration (its keys sealed by the service), the
-- outbox of events (written in the same transaction as the change they
-- announce) and every delivery attempt.
CREATE TABLE webhook_endpoints (
	app_id     TEXT PRIMARY KEY REFERENCES apps(id),
	url        TEXT NOT NULL DEFAULT '',
	keys       BLOB,
	updated_at INTEGER NOT NULL
);

CREATE TABLE webhook_events (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	id            TEXT NOT NULL UNIQUE,
	app_id        TEXT NOT NULL,
	connection_id TEXT NOT NULL DEFAULT '',
	type          TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	data          BLOB NOT NULL,
	private       BLOB NOT NULL,
	due_at        INTEGER NOT NULL,
	since         INTEGER NOT NULL,
	next_at       INTEGER NOT NULL,
	status        TEXT NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	lease_until   INTEGER NOT NULL DEFAULT 0,
	lease_owner   TEXT NOT NULL DEFAULT '',
	delivered_at  INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT NOT NULL DEFAULT '',
	last_status   INTEGER NOT NULL DEFAULT 0
);

-- What a claim reads: pending events by when they are next due, and each
-- connection's pending events in delivery order.
CREATE INDEX webhook_events_next ON webhook_events(next_at) WHERE status = 'pending';
CREATE INDEX webhook_events_order ON webhook_events(app_id, connection_id, due_at, seq) WHERE status = 'pending';
CREATE INDEX webhook_events_app ON webhook_events(app_id, seq);
CREATE INDEX webhook_events_created ON webhook_events(created_at);

CREATE TABLE webhook_attempts (
	event_id    TEXT NOT NULL,
	n           INTEGER NOT NULL,
	at          INTEGER NOT NULL,
	duration_ns INTEGER NOT NULL,
	status_code INTEGER NOT NULL,
	error       TEXT NOT NULL,
	instance    TEXT NOT NULL
);

CREATE INDEX webhook_attempts_event ON webhook_attempts(event_id, n);
