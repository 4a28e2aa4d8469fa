CREATE INDEX tokens_code ON tokens (code_digest);
