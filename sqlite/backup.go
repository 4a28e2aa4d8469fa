package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Backup writes a consistent copy of the database to the new file at path
// (VACUUM INTO, one read transaction: writers, in this process or others,
// go on while it runs, and the copy is the database as of its start). The
// copy is written beside path, made 0600, synced and checked, and only
// then renamed to path; path must not exist yet.
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("backup: %s already exists", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	// VACUUM INTO writes into a file that does not exist or is empty; an
	// empty one made here first has the mode a backup should have.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// On a connection of its own (the readers are query_only, which
	// VACUUM INTO refuses): the one writer connection stays free for
	// writes.
	db, err := sql.Open("sqlite", "file:"+s.path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, tmpName)
	db.Close()
	if err != nil {
		return fmt.Errorf("backup: VACUUM INTO: %w", err)
	}
	if err := syncFile(tmpName); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := Verify(ctx, tmpName); err != nil {
		return fmt.Errorf("backup: the copy does not check: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil { // fails if path appeared meanwhile
		return fmt.Errorf("backup: %w", err)
	}
	return syncFile(filepath.Dir(path))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Verify checks that the file at path is a sound bankgate SQLite
// database whose schema this build can open (its migrations all known,
// perhaps fewer than this build's), without changing it, and returns its
// schema version.
func Verify(ctx context.Context, path string) (int, error) {
	ms, err := Status(ctx, path)
	if err != nil {
		return 0, err
	}
	version, known := 0, 0
	for _, m := range ms {
		if !m.AppliedAt.IsZero() {
			version = max(version, m.Version)
		}
		if m.Name != "" {
			known = max(known, m.Version)
		}
	}
	if version == 0 {
		return 0, fmt.Errorf("%s is not a bankgate database (no migrations recorded)", path)
	}
	if version > known {
		return version, &SchemaTooNewError{Path: path, Version: version, Known: known}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('apps', 'connections', 'tokens')`).Scan(&n); err != nil {
		return 0, err
	}
	if n != 3 {
		return 0, fmt.Errorf("%s is not a bankgate database (no apps, connections and tokens tables)", path)
	}
	var res []string
	rows, err := db.QueryContext(ctx, `PRAGMA quick_check`)
	if err != nil {
		return 0, fmt.Errorf("%s: quick_check: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return 0, err
		}
		res = append(res, s)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("%s: quick_check: %w", path, err)
	}
	if len(res) != 1 || res[0] != "ok" {
		return 0, fmt.Errorf("%s is damaged: %s", path, strings.Join(res, "; "))
	}
	return version, nil
}
