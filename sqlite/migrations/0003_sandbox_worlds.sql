-- Every app has its own sandbox world and test clock (bankgate 0.x, issue
-- "Every app its own sandbox world"). The clock's offset lives on the app;
-- the sandbox state that all apps used to share (user streams
-- sandbox/<bank>/<user> and the IBAN registry) is dropped: each app's
-- users start again from their deterministic data. Operator fixtures
-- (sandbox-fixture/...) stay.
ALTER TABLE apps ADD COLUMN clock_offset INTEGER NOT NULL DEFAULT 0;
DELETE FROM events WHERE substr(stream, 1, 16) = 'sandbox/SANDBOX_' OR substr(stream, 1, 13) = 'sandbox-iban/';
CREATE INDEX access_codes_expires ON access_codes (expires_at);
