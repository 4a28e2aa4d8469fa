package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migration is one schema migration: known to this build, applied to a
// database, or both.
type Migration struct {
	Version   int
	Name      string    // the file name; "" when this build does not know it
	AppliedAt time.Time // zero when it is not applied
}

// SchemaTooNewError is the refusal to open a database that a newer
// bankgate has migrated: this build would misread or damage it.
type SchemaTooNewError struct {
	Path    string
	Version int // the database's highest applied migration
	Known   int // this build's highest
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("the SQLite database %s has schema version %d, newer than this bankgate knows (%d): a newer bankgate has migrated it. Run that newer version, or restore a backup made before the upgrade (see docs/operations.md)", e.Path, e.Version, e.Known)
}

// Known returns the migrations this build carries, by version.
func Known() ([]Migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var ms []Migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad name", base)
		}
		ms = append(ms, Migration{Version: v, Name: base})
	}
	return ms, nil
}

// Status reports the migrations this build knows and those applied to the
// database file at path (together, by version), without changing it. A
// file without a schema_migrations table has none applied.
func Status(ctx context.Context, path string) ([]Migration, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	defer db.Close()
	known, err := Known()
	if err != nil {
		return nil, err
	}
	byVersion := map[int]Migration{}
	for _, m := range known {
		byVersion[m.Version] = m
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if n > 0 {
		rows, err := db.QueryContext(ctx, `SELECT version, applied_at FROM schema_migrations`)
		if err != nil {
			return nil, fmt.Errorf("%s: schema_migrations: %w", path, err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			var at int64
			if err := rows.Scan(&v, &at); err != nil {
				return nil, fmt.Errorf("%s: schema_migrations: %w", path, err)
			}
			m := byVersion[v]
			m.Version, m.AppliedAt = v, time.Unix(0, at).UTC()
			byVersion[v] = m
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func (s *Store) migrate(ctx context.Context, path string) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
			return err
		}
		// A database a newer bankgate has migrated is refused before
		// anything is written to it.
		var newest int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
			return err
		}
		if known := len(names); known > 0 {
			last, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(names[known-1], "migrations/"), "_", 2)[0])
			if err != nil {
				return err
			}
			if newest > last {
				return &SchemaTooNewError{Path: path, Version: newest, Known: last}
			}
		}
		for _, name := range names {
			base := strings.TrimPrefix(name, "migrations/")
			v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %s: bad name", base)
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
}
