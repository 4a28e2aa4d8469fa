-- One row per server key the store has seen: its ID and a check value (a
-- digest under the key of a fixed string), never the key. A server started
-- with a key whose check value differs refuses to start.
CREATE TABLE server_keys (
	id          TEXT PRIMARY KEY,
	check_value BYTEA NOT NULL,
	created_at  BIGINT NOT NULL,
	retired_at  BIGINT NOT NULL DEFAULT 0
)
