package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bankgate/bankgate"
)

// TestClassifyWriteRefused: disk_full and read_only_sql_transaction are
// refused writes (503), not unknown errors; other SQL errors are not.
func TestClassifyWriteRefused(t *testing.T) {
	for code, want := range map[string]bool{"53100": true, "25006": true, "23505": false, "42P01": false} {
		err := classify(fmt.Errorf("append event: %w", &pgconn.PgError{Code: code}))
		if got := errors.Is(err, bankgate.ErrWriteRefused); got != want {
			t.Errorf("SQLSTATE %s: refused %v, want %v", code, got, want)
		}
		if IsUnavailable(err) {
			t.Errorf("SQLSTATE %s: classified unreachable", code)
		}
	}
}
