package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/bankgate/bankgate/sqlite"
)

const pgDumpAdvice = "for the PostgreSQL store use pg_dump and pg_restore (pg_dump --format=custom --file=bankgate.dump \"$BANKGATE_DATABASE_URL\"); see docs/operations.md"

func cmdBackup(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("backup --to FILE", "Write a consistent copy of the SQLite store to FILE (a new file, mode 0600), safely while\nthe server runs: writes go on meanwhile and the copy is the store as of the backup's start.\nThe server key is not in it: keep the key file (--secret-key-file, default <data-dir>/server.key)\nas well, apart from the backups. For PostgreSQL use pg_dump.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	to := fs.String("to", "", "the backup file to write (required; must not exist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("backup: unexpected argument %q", fs.Arg(0))
	}
	if cfg.DatabaseURL != "" {
		return errors.New("backup: bankgate backup copies the SQLite store; " + pgDumpAdvice)
	}
	if *to == "" {
		return errors.New("backup: --to FILE is required")
	}
	if err := requireStore(cfg); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	start := time.Now()
	// Opening the store checks its schema (and applies this build's
	// pending migrations, as serve would).
	store, err := sqlite.Open(ctx, sqlitePath(cfg))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer store.Close()
	if err := store.Backup(ctx, *to); err != nil {
		return err
	}
	version, err := sqlite.Verify(ctx, *to)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fi, err := os.Stat(*to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes, schema version %d) in %s\n", sqlitePath(cfg), *to, fi.Size(), version, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stdout, "the server key is not in the backup: keep %s too (it opens what the backup holds)\n", keyFileName(cfg))
	return nil
}

// keyFileName names the configured server key for messages.
func keyFileName(cfg Config) string {
	switch {
	case len(cfg.SecretKey) > 4 && cfg.SecretKey[:4] == "hex:":
		return "the inline server key (--secret-key-file hex:...)"
	case cfg.SecretKey != "":
		return cfg.SecretKey
	}
	return filepath.Join(cfg.DataDir, "server.key")
}

func cmdRestore(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("restore --from FILE [--force]", "Make FILE (written by bankgate backup) the SQLite store in --data-dir. Stop the servers on\nthat data dir first. Refused when the data dir already has a store unless --force, which keeps\nthe old one beside it as bankgate.db.replaced-<time>. The file must be a sound bankgate database\nwhose schema this bankgate knows. The server key is not in a backup: put the original key file\nat <data-dir>/server.key or name it with --secret-key-file; restore checks it when it is there.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	from := fs.String("from", "", "the backup file (required)")
	force := fs.Bool("force", false, "replace an existing store (kept as bankgate.db.replaced-<time>)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("restore: unexpected argument %q", fs.Arg(0))
	}
	if cfg.DatabaseURL != "" {
		return errors.New("restore: bankgate restore writes the SQLite store; " + pgDumpAdvice)
	}
	if *from == "" {
		return errors.New("restore: --from FILE is required")
	}
	version, err := sqlite.Verify(ctx, *from)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := cfg.ensureDataDir(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	target := sqlitePath(cfg)
	var kept string
	if _, err := os.Lstat(target); err == nil {
		if !*force {
			return fmt.Errorf("restore: %s already exists: stop the servers using it and pass --force to replace it (it is kept as %s.replaced-<time>)", target, filepath.Base(target))
		}
		kept = target + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore: %w", err)
	}
	// Copy beside the target, sync, then move the old database and its
	// WAL aside and the copy into place: a WAL left behind would be
	// replayed into the restored database.
	tmp, err := copyToTemp(*from, filepath.Dir(target))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer os.Remove(tmp)
	if kept != "" {
		for _, sfx := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(target+sfx, kept+sfx); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("restore: keep the old store: %w", err)
			}
		}
	} else {
		for _, sfx := range []string{"-wal", "-shm"} {
			if err := os.Remove(target + sfx); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("restore: %w", err)
			}
		}
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(filepath.Dir(target)); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s (schema version %d) to %s\n", *from, version, target)
	if kept != "" {
		fmt.Fprintf(stdout, "the store it replaced is kept as %s\n", kept)
	}
	// The keys: check them against the restored store when they are
	// there, never make a new one.
	keyPath := keyFileName(cfg)
	if cfg.SecretKey == "" {
		if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stdout, "no server key at %s yet: put the original key file there (or pass --secret-key-file to serve); a new key would not open this store\n", keyPath)
			return nil
		}
	}
	log, err := newLogger("warn", stderr)
	if err != nil {
		return err
	}
	if cfg.AccessCodeTTL == 0 {
		cfg.AccessCodeTTL = 30 * time.Minute
	}
	a, err := open(ctx, cfg, log, nil)
	if err != nil {
		return fmt.Errorf("restore: the store is in place, but the server key does not open it: %w", err)
	}
	a.Close()
	fmt.Fprintf(stdout, "server key %s matches the restored store\n", keyPath)
	return nil
}

// copyToTemp copies src to a new 0600 file in dir, synced, and returns
// its name.
func copyToTemp(src, dir string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, ".bankgate.db.restore-*")
	if err != nil {
		return "", err
	}
	name := out.Name()
	fail := func(err error) (string, error) {
		out.Close()
		os.Remove(name)
		return "", err
	}
	if err := out.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		return fail(err)
	}
	if err := out.Sync(); err != nil {
		return fail(err)
	}
	if err := out.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
