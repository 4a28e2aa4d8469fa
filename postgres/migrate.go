package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the embedded migrations to the database at databaseURL
// and returns; it is what `bankgate migrate` runs. Several instances may
// migrate one database at once: each step runs in a transaction holding an
// exclusive lock on schema_migrations.
func Migrate(ctx context.Context, databaseURL string) error {
	pool, err := newPool(databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	return migrate(ctx, pool)
}

// SchemaTooNewError is the refusal to use a database that a newer
// bankgate has migrated: this build would misread or damage it.
type SchemaTooNewError struct {
	Version int // the database's highest applied migration
	Known   int // this build's highest
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("the PostgreSQL database has schema version %d, newer than this bankgate knows (%d): a newer bankgate has migrated it. Run that newer version, or restore a backup made before the upgrade (see docs/operations.md)", e.Version, e.Known)
}

func maxKey(m map[int]bool) int {
	n := 0
	for k := range m {
		n = max(n, k)
	}
	return n
}

// Migration is one schema migration: known to this build, applied to the
// database, or both.
type Migration struct {
	Version   int
	Name      string    // the file name; "" when this build does not know it
	AppliedAt time.Time // zero when it is not applied
}

// Status reports the migrations this build knows and those applied to the
// database at databaseURL (together, by version), without changing it. A
// database without a schema_migrations table has none applied.
func Status(ctx context.Context, databaseURL string) ([]Migration, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	byVersion := map[int]Migration{}
	for _, m := range ms {
		byVersion[m.version] = Migration{Version: m.version, Name: m.name}
	}
	pool, err := newPool(databaseURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	var table *string
	if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations')::text`).Scan(&table); err != nil {
		return nil, classify(err)
	}
	if table != nil {
		rows, err := pool.Query(ctx, `SELECT version, applied_at FROM schema_migrations`)
		if err != nil {
			return nil, classify(err)
		}
		type row struct{ Version, AppliedAt int64 }
		applied, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			return nil, classify(err)
		}
		for _, r := range applied {
			m := byVersion[int(r.Version)]
			m.Version, m.AppliedAt = int(r.Version), time.Unix(0, r.AppliedAt).UTC()
			byVersion[m.Version] = m
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

type migration struct {
	version int
	name    string
	body    string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var ms []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad name", base)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{v, base, string(body)})
	}
	return ms, nil
}

// migrate applies the pending migrations, one transaction per migration
// (one DDL statement each). Every step takes an exclusive lock on
// schema_migrations and checks the version again under it, so instances
// starting together apply each step exactly once without advisory locks.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if err := createMigrationsTable(ctx, pool); err != nil {
		return err
	}
	applied := map[int]bool{}
	err = func() error {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return unavailable(fmt.Errorf("acquire connection: %w", err))
		}
		defer c.Release()
		rows, err := c.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return err
		}
		vs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		for _, v := range vs {
			applied[int(v)] = true
		}
		return err
	}()
	if err != nil {
		return fmt.Errorf("migrate: %w", classify(err))
	}
	// A database a newer bankgate has migrated is refused before
	// anything is written to it.
	if len(ms) > 0 {
		known := ms[len(ms)-1].version
		for v := range applied {
			if v > known {
				return &SchemaTooNewError{Version: maxKey(applied), Known: known}
			}
		}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		err := txPool(ctx, pool, func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE`); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil // another instance applied it
			}
			if _, err := tx.Exec(ctx, m.body); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, m.version, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

// createMigrationsTable creates schema_migrations if it does not exist.
// Concurrent CREATE TABLE IF NOT EXISTS can still fail in PostgreSQL with a
// unique violation on the catalog, duplicate_table or duplicate_object (the
// table's row type), so it retries; the retry then finds the table.
func createMigrationsTable(ctx context.Context, pool *pgxpool.Pool) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			backoff(ctx, attempt)
		}
		err = func() error {
			c, err := pool.Acquire(ctx)
			if err != nil {
				return unavailable(fmt.Errorf("acquire connection: %w", err))
			}
			defer c.Release()
			_, err = c.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`)
			return err
		}()
		if err == nil || ctx.Err() != nil {
			break
		}
		if s := sqlState(err); s != "23505" && s != "42P07" && s != "42710" && !retryable(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", classify(err))
	}
	return nil
}
