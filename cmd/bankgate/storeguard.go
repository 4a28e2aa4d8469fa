package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// sqlitePath is the SQLite database file in the data dir.
func sqlitePath(cfg Config) string { return filepath.Join(cfg.DataDir, "bankgate.db") }

// createFlag adds --create to a command other than serve. The check it
// returns, called after the flags are parsed, refuses to go on when the
// SQLite store does not exist yet and --create was not given: a command
// run in the wrong directory must not make a new database and a new
// server key there.
func createFlag(fs *flag.FlagSet) func(cfg Config) error {
	create := fs.Bool("create", false, "make a new, empty store (database and server key in --data-dir) if there is none; without it the command refuses, so that a wrong --data-dir is an error rather than a new bankgate")
	return func(cfg Config) error {
		if *create || cfg.DatabaseURL != "" {
			return nil
		}
		return requireStore(cfg)
	}
}

// requireStore fails with a message naming the path unless the SQLite
// database exists.
func requireStore(cfg Config) error {
	path := sqlitePath(cfg)
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		if abs, aerr := filepath.Abs(path); aerr == nil {
			path = abs
		}
		return fmt.Errorf("no bankgate database at %s: check --data-dir (or BANKGATE_DATA_DIR) and --database-url; pass --create to make a new, empty store there", path)
	}
	if err != nil {
		return fmt.Errorf("bankgate database: %w", err)
	}
	return nil
}
