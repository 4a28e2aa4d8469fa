DELETE FROM events WHERE substr(stream, 1, 16) = 'sandbox/SANDBOX_' OR substr(stream, 1, 13) = 'sandbox-iban/'
