-- Every audit row (one per exchange, login, payment) paid for this index on
-- the write path: ExchangeToken fell from about 5,700/s to 3,700/s on SQLite.
-- An operator's search by connection reads the app's (or the time) index instead.
DROP INDEX IF EXISTS audit_connection;
