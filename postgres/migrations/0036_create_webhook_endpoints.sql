-- Each app's webhook registration; its keys are sealed by the service.
CREATE TABLE webhook_endpoints (
	app_id     TEXT PRIMARY KEY REFERENCES apps(id),
	url        TEXT NOT NULL DEFAULT '',
	keys       BYTEA,
	updated_at BIGINT NOT NULL
)
