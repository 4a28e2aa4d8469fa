// Package sqlitetest gives tests a new SQLite store quickly: a copy of an
// empty store with every migration applied, made once per test process,
// costs a file write instead of the schema's migrations and their
// fsyncs. (A store made from nothing, migrations and all, is what
// `bankgate serve` does and what the sqlite package's own open and
// migration tests check.)
package sqlitetest

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bankgate/bankgate/sqlite"
)

// migrated is the migrated empty store's file, made once.
var migrated = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "bankgate-sqlite-template-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bankgate.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		return nil, err
	}
	return os.ReadFile(path)
})

// WriteMigrated writes an empty store with every migration applied to
// path; opening it finds nothing to migrate.
func WriteMigrated(tb testing.TB, path string) {
	tb.Helper()
	b, err := migrated()
	if err != nil {
		tb.Fatalf("migrated SQLite store: %v", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}
