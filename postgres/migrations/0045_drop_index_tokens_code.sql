-- The code-reuse revocation finds the token by the ID its access code
-- names (tokens.id is unique), so no index on code_digest is needed, and
-- every exchange writes one index fewer.
DROP INDEX IF EXISTS tokens_code;
