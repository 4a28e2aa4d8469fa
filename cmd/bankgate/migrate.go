package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/bankgate/bankgate/postgres"
)

func cmdMigrate(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("migrate --database-url URL", "Apply the embedded PostgreSQL schema migrations and exit (serve also applies them on start).\nSafe to run while other instances start or serve.", &cfg, env, stderr, "database-url")
	if err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("migrate: --database-url (or BANKGATE_DATABASE_URL) is required; the SQLite store migrates itself on open")
	}
	if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}
