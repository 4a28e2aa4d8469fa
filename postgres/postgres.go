// Package postgres is bankgate's PostgreSQL store, for running many server
// instances against one database. It uses pgx/v5 through a pgxpool and keeps
// to SQL that CockroachDB and YugabyteDB also run: keys are made in Go,
// digests are BYTEA, times are BIGINT unix nanoseconds (0 = unset), single
// use is one conditional UPDATE, and whole transactions are retried a
// bounded number of times on serialization failures and deadlocks
// (SQLSTATE 40001, 40P01). There are no advisory locks and no LISTEN/NOTIFY.
//
// The semantics mirror the sqlite package exactly; both pass the storetest
// conformance suite.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bankgate/bankgate"
)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	// connectTimeout bounds dialling one connection, so that an outage
	// fails fast instead of hanging requests.
	connectTimeout = 3 * time.Second
	// readTimeout bounds one read, including waiting for a connection.
	readTimeout = 5 * time.Second
	// writeTimeout bounds one write, all retries included.
	writeTimeout = 10 * time.Second
	// pingTimeout bounds Ping.
	pingTimeout = 2 * time.Second
	// maxAttempts is how often a transaction is tried in all when it fails
	// with a serialization failure, a deadlock, or on a connection that
	// turned out dead before anything was sent.
	maxAttempts = 5
)

// Store is the PostgreSQL implementation of bankgate.Store. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var _ bankgate.Store = (*Store)(nil)

// Open connects to the database at databaseURL (a postgres:// URL or a
// key=value DSN as pgx accepts them), applies the embedded migrations, and
// returns the store. Query parameters pgx does not know are sent as
// run-time parameters, so `?search_path=myschema` puts the tables in that
// schema. Unless the URL sets pool_max_conns, the pool holds
// max(8, 4*GOMAXPROCS) connections; unless it sets connect_timeout, dialling
// gives up after 3 s. Open returns an error for which IsUnavailable is true
// when the database cannot be reached.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	pool, err := newPool(databaseURL)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

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

func newPool(databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The error text may hold the URL; pgx redacts the password.
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, unavailable(fmt.Errorf("open postgres: %w", err))
	}
	return pool, nil
}

// Pool returns the connection pool, for metrics (pool.Stat()). Callers must
// not close it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool, waiting for acquired connections to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping runs SELECT 1 within 2 s. It returns an error for which
// IsUnavailable is true when the database cannot be reached.
func (s *Store) Ping(ctx context.Context) error {
	return s.read(ctx, pingTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		var one int
		if err := c.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		return nil
	})
}

// Errors and their classification.

// ErrUnavailable is matched (errors.Is) by every error the store returns
// because the database could not be reached or did not answer in time.
var ErrUnavailable = errors.New("store unavailable")

type unavailableError struct{ err error }

func (e *unavailableError) Error() string        { return "store unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

func unavailable(err error) error {
	var u *unavailableError
	if err == nil || errors.As(err, &u) {
		return err
	}
	return &unavailableError{err}
}

// IsUnavailable reports whether err means the database could not be
// reached: a refused or failed connection, a timeout waiting for a pooled
// connection, or the store's own deadline passing while the database did
// not answer. Callers use it to answer 503 rather than 500. A caller's own
// cancellation does not count.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || errors.Is(err, syscall.ECONNREFUSED)
}

// isConnFailure reports whether err, returned after a connection was
// acquired, shows the database or the connection to it failing rather than
// the statement.
func isConnFailure(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08 is connection exceptions; 57P01-57P03 are the server
		// shutting down or starting; 53300 is too many connections.
		switch pe.Code {
		case "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUnique(err error) bool { return sqlState(err) == "23505" }

// retryable reports whether running the whole transaction again may
// succeed: a serialization failure or deadlock, or a failure before the
// statement reached the server (such as a pooled connection the server had
// closed).
func retryable(err error) bool {
	switch sqlState(err) {
	case "40001", "40P01":
		return true
	}
	var u *unavailableError
	if errors.As(err, &u) {
		return false // acquiring already waited; fail fast
	}
	return pgconn.SafeToRetry(err) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// classify marks connection failures as unavailable and leaves all other
// errors, bankgate's own included, as they are.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var be *bankgate.Error
	if errors.As(err, &be) {
		return err
	}
	if isConnFailure(err) {
		return unavailable(err)
	}
	return err
}

func backoff(ctx context.Context, attempt int) {
	d := time.Duration(attempt)*10*time.Millisecond + rand.N(10*time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Running statements.
//
// Every method detaches from the caller's cancellation once it starts
// (context.WithoutCancel) and applies its own timeout instead: with pgx a
// cancelled query closes the pooled connection, and a client hanging up
// should not cost the pool a connection. A caller whose context is already
// done when the method is called gets its error back without touching the
// database.

// read runs fn on a pooled connection, retrying a connection that proved
// dead before the query was sent.
func (s *Store) read(ctx context.Context, timeout time.Duration, fn func(context.Context, *pgxpool.Conn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			backoff(ctx, attempt)
		}
		err = s.read1(ctx, fn)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return classify(err)
}

func (s *Store) read1(ctx context.Context, fn func(context.Context, *pgxpool.Conn) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return unavailable(fmt.Errorf("acquire connection: %w", err))
	}
	defer c.Release()
	return fn(ctx, c)
}

// tx runs fn in a transaction and commits it if fn returns nil, trying the
// whole transaction again on a serialization failure or deadlock, at most
// maxAttempts times in all. fn must be safe to run more than once.
func (s *Store) tx(ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	return txPool(ctx, s.pool, fn)
}

func txPool(ctx context.Context, pool *pgxpool.Pool, fn func(context.Context, pgx.Tx) error) error {
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			backoff(ctx, attempt)
		}
		err = tx1(ctx, pool, fn)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			break
		}
	}
	return classify(err)
}

func tx1(ctx context.Context, pool *pgxpool.Pool, fn func(context.Context, pgx.Tx) error) error {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return unavailable(fmt.Errorf("acquire connection: %w", err))
	}
	defer c.Release()
	tx, err := c.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(ctx, tx); err != nil {
		tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Migrations.

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

// Helpers shared by the methods.

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func notFound(what string) error { return bankgate.Errorf(bankgate.NotFound, "%s not found", what) }

func invalidCode() error {
	return bankgate.Errorf(bankgate.InvalidAccessCode, "The access code is invalid, expired or already used.")
}

// audit records an audit event and, for kinds that change what caches
// hold, its change marker (bankgate.ChangeMarker), in tx.
func audit(ctx context.Context, tx pgx.Tx, at time.Time, kind, appID, connID, detail string) error {
	id := uuid.Must(uuid.NewV7()).String()
	_, err := tx.Exec(ctx, `INSERT INTO audit (id, at, kind, app_id, connection_id, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, nanos(at), kind, appID, connID, detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", kind, err)
	}
	if m := bankgate.ChangeMarker(kind, appID, connID, id); m != "" {
		if _, err := tx.Exec(ctx, `INSERT INTO events (stream, seq, at, body) VALUES ($1, 1, $2, $3)`, m, nanos(at), []byte{}); err != nil {
			return fmt.Errorf("change marker: %w", err)
		}
	}
	return nil
}

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func parseList(s string) []string {
	var v []string
	json.Unmarshal([]byte(s), &v)
	if len(v) == 0 {
		return nil
	}
	return v
}

// Apps.

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateApp implements bankgate.Store.
func (s *Store) CreateApp(ctx context.Context, app *bankgate.App) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO apps (id, name, app_key, secret_digest, created_at, secret_rotated_at, updated_at, allowed_origins, redirect_uris, bundle_ids, server_url, environment, forwarding)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			app.ID, app.Name, app.Key, app.SecretDigest, nanos(app.CreatedAt), nanos(app.SecretRotatedAt), nanos(app.CreatedAt),
			jsonList(app.AllowedOrigins), jsonList(app.RedirectURIs), jsonList(app.BundleIDs), app.ServerURL, app.Environment, boolInt(app.Forwarding))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "app already exists")
		}
		if err != nil {
			return fmt.Errorf("create app: %w", err)
		}
		return audit(ctx, tx, app.CreatedAt, bankgate.AuditAppCreated, app.ID, "", "name="+app.Name)
	})
}

const appCols = `id, name, app_key, secret_digest, created_at, secret_rotated_at, allowed_origins, redirect_uris, bundle_ids, server_url, clock_offset, environment, forwarding`

func scanApp(row pgx.Row) (*bankgate.App, error) {
	var a bankgate.App
	var created, rotated, offset, forwarding int64
	var origins, uris, bundles string
	if err := row.Scan(&a.ID, &a.Name, &a.Key, &a.SecretDigest, &created, &rotated, &origins, &uris, &bundles, &a.ServerURL, &offset, &a.Environment, &forwarding); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, notFound("app")
		}
		return nil, fmt.Errorf("read app: %w", err)
	}
	a.CreatedAt, a.SecretRotatedAt = fromNanos(created), fromNanos(rotated)
	a.AllowedOrigins, a.RedirectURIs, a.BundleIDs = parseList(origins), parseList(uris), parseList(bundles)
	a.ClockOffset, a.Forwarding = time.Duration(offset), forwarding != 0
	return &a, nil
}

func (s *Store) appWhere(ctx context.Context, where string, arg any) (*bankgate.App, error) {
	var a *bankgate.App
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		var err error
		a, err = scanApp(c.QueryRow(ctx, `SELECT `+appCols+` FROM apps WHERE `+where+` = $1`, arg))
		return err
	})
	return a, err
}

// App implements bankgate.Store.
func (s *Store) App(ctx context.Context, id string) (*bankgate.App, error) {
	return s.appWhere(ctx, "id", id)
}

// AppByKey implements bankgate.Store.
func (s *Store) AppByKey(ctx context.Context, key string) (*bankgate.App, error) {
	return s.appWhere(ctx, "app_key", key)
}

// AppBySecret implements bankgate.Store.
func (s *Store) AppBySecret(ctx context.Context, digest []byte) (*bankgate.App, error) {
	return s.appWhere(ctx, "secret_digest", digest)
}

// ListApps implements bankgate.Store.
func (s *Store) ListApps(ctx context.Context) ([]*bankgate.App, error) {
	var apps []*bankgate.App
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		apps = nil
		rows, err := c.Query(ctx, `SELECT `+appCols+` FROM apps ORDER BY created_at, id`)
		if err != nil {
			return fmt.Errorf("list apps: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanApp(rows)
			if err != nil {
				return err
			}
			apps = append(apps, a)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list apps: %w", err)
		}
		return nil
	})
	return apps, err
}

// RotateAppSecret implements bankgate.Store.
func (s *Store) RotateAppSecret(ctx context.Context, appID string, digest []byte, now time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE apps SET secret_digest = $1, secret_rotated_at = $2, updated_at = $2 WHERE id = $3`, digest, nanos(now), appID)
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "secret already in use")
		}
		if err != nil {
			return fmt.Errorf("rotate app secret: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return notFound("app")
		}
		return audit(ctx, tx, now, bankgate.AuditSecretRotated, appID, "", "")
	})
}

// UpdateApp implements bankgate.Store. The app row is locked (SELECT ...
// FOR UPDATE) while fn runs, so concurrent updates do not lose each
// other's changes.
func (s *Store) UpdateApp(ctx context.Context, appID string, now time.Time, fn func(*bankgate.App) error) (*bankgate.App, error) {
	var out *bankgate.App
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		a, err := scanApp(tx.QueryRow(ctx, `SELECT `+appCols+` FROM apps WHERE id = $1 FOR UPDATE`, appID))
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE apps SET name = $1, allowed_origins = $2, redirect_uris = $3, bundle_ids = $4, updated_at = $5, server_url = $6, forwarding = $7 WHERE id = $8`,
			a.Name, jsonList(a.AllowedOrigins), jsonList(a.RedirectURIs), jsonList(a.BundleIDs), nanos(now), a.ServerURL, boolInt(a.Forwarding), appID); err != nil {
			return fmt.Errorf("update app: %w", err)
		}
		out = a
		return audit(ctx, tx, now, bankgate.AuditAppUpdated, appID, "", "")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AdvanceAppClock implements bankgate.Store. The app row is locked
// (SELECT ... FOR UPDATE) so that concurrent advances add up and the
// bound holds.
func (s *Store) AdvanceAppClock(ctx context.Context, appID string, d time.Duration, now time.Time) (time.Duration, error) {
	if d <= 0 || d > bankgate.MaxClockAdvance {
		return 0, bankgate.Errorf(bankgate.ParameterError, "a clock advance must be positive and at most %v", bankgate.MaxClockAdvance)
	}
	var out time.Duration
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var cur int64
		if err := tx.QueryRow(ctx, `SELECT clock_offset FROM apps WHERE id = $1 FOR UPDATE`, appID).Scan(&cur); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("app")
			}
			return fmt.Errorf("advance app clock: %w", err)
		}
		if cur < 0 || time.Duration(cur) > bankgate.MaxClockOffset-d {
			return bankgate.Errorf(bankgate.ParameterError, "the app's clock may move at most %v in all", bankgate.MaxClockOffset)
		}
		out = time.Duration(cur) + d
		if _, err := tx.Exec(ctx, `UPDATE apps SET clock_offset = $1, updated_at = $2 WHERE id = $3`, int64(out), nanos(now), appID); err != nil {
			return fmt.Errorf("advance app clock: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE access_codes SET expires_at = expires_at - $1 WHERE expires_at > $2 AND app_id = $3 AND used_at = 0`,
			int64(d), nanos(now), appID); err != nil {
			return fmt.Errorf("advance app clock: %w", err)
		}
		return audit(ctx, tx, now, bankgate.AuditClockAdvanced, appID, "", "offset="+out.String())
	})
	return out, err
}

// Connections, codes and tokens.

// CreateConnection implements bankgate.Store.
func (s *Store) CreateConnection(ctx context.Context, c *bankgate.Connection, code *bankgate.AccessCode) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO connections (id, app_id, bank_id, user_id, client_user_id, user_secret_digest, sealed, created_at, delinked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)`,
			c.ID, c.AppID, c.BankID, c.UserID, c.ClientUserID, c.UserSecretDigest, c.Sealed, nanos(c.CreatedAt))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "connection already exists")
		}
		if err != nil {
			return fmt.Errorf("create connection: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO access_codes (digest, app_id, connection_id, token_id, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, 0)`,
			code.Digest, code.AppID, code.ConnectionID, code.TokenID, nanos(code.CreatedAt), nanos(code.ExpiresAt))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "access code already exists")
		}
		if err != nil {
			return fmt.Errorf("create access code: %w", err)
		}
		if err := audit(ctx, tx, c.CreatedAt, bankgate.AuditConnectionCreated, c.AppID, c.ID, "bank="+c.BankID); err != nil {
			return err
		}
		return audit(ctx, tx, code.CreatedAt, bankgate.AuditCodeIssued, code.AppID, c.ID, "tokenID="+code.TokenID)
	})
}

const connCols = `id, app_id, bank_id, user_id, client_user_id, user_secret_digest, sealed, created_at, delinked_at`

// Connection implements bankgate.Store.
func (s *Store) Connection(ctx context.Context, id string) (*bankgate.Connection, error) {
	var out *bankgate.Connection
	err := s.read(ctx, readTimeout, func(ctx context.Context, conn *pgxpool.Conn) error {
		var c bankgate.Connection
		var created, delinked int64
		err := conn.QueryRow(ctx, `SELECT `+connCols+` FROM connections WHERE id = $1`, id).
			Scan(&c.ID, &c.AppID, &c.BankID, &c.UserID, &c.ClientUserID, &c.UserSecretDigest, &c.Sealed, &created, &delinked)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("connection")
		}
		if err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		c.CreatedAt, c.DelinkedAt = fromNanos(created), fromNanos(delinked)
		out = &c
		return nil
	})
	return out, err
}

// ExchangeAccessCode implements bankgate.Store. The code is consumed by one
// conditional UPDATE; concurrent exchanges of one code queue on its row
// lock, and all but the first find it used.
func (s *Store) ExchangeAccessCode(ctx context.Context, ex *bankgate.Exchange) error {
	// The common case, a fresh code, is one statement and one round trip:
	// it consumes the code, issues the token and audits the exchange
	// atomically (an autocommit statement is its own transaction, and its
	// answer comes after the commit). Anything else (a used, unknown or
	// expired code) takes the transaction below, which tries the code again
	// and handles its reuse.
	if err := ctx.Err(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	t := ex.Token
	t.AppID, t.ConnectionID, t.CodeDigest, t.CreatedAt = ex.AppID, ex.ConnectionID, ex.CodeDigest, ex.Now
	auditID := uuid.Must(uuid.NewV7()).String()
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			backoff(wctx, attempt)
		}
		err = s.read1(wctx, func(ctx context.Context, c *pgxpool.Conn) error {
			return c.QueryRow(ctx, sqlExchange, nanos(ex.Now), ex.CodeDigest, ex.AppID, ex.ConnectionID, t.Digest, auditID, bankgate.AuditCodeExchanged, boolInt(t.Forwarded)).
				Scan(&t.ID, &t.UserID, &ex.ClientUserID)
		})
		if err == nil || !retryable(err) || wctx.Err() != nil {
			break
		}
	}
	switch {
	case err == nil:
		ex.Token = t
		return nil
	case isUnique(err):
		return bankgate.Errorf(bankgate.Conflict, "token already exists")
	case !errors.Is(err, pgx.ErrNoRows):
		return classify(fmt.Errorf("exchange access code: %w", err))
	}
	var reused bool
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		reused = false
		var tokenID string
		err := tx.QueryRow(ctx, `UPDATE access_codes SET used_at = $1
			WHERE digest = $2 AND app_id = $3 AND connection_id = $4 AND used_at = 0 AND expires_at > $1
			RETURNING token_id`,
			nanos(ex.Now), ex.CodeDigest, ex.AppID, ex.ConnectionID).Scan(&tokenID)
		if errors.Is(err, pgx.ErrNoRows) {
			return rejectCode(ctx, tx, ex, &reused)
		}
		if err != nil {
			return fmt.Errorf("consume access code: %w", err)
		}
		var userID string
		if err := tx.QueryRow(ctx, `SELECT user_id, client_user_id FROM connections WHERE id = $1`, ex.ConnectionID).Scan(&userID, &ex.ClientUserID); err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		t := ex.Token
		t.ID, t.UserID, t.AppID, t.ConnectionID, t.CodeDigest, t.CreatedAt = tokenID, userID, ex.AppID, ex.ConnectionID, ex.CodeDigest, ex.Now
		if _, err := tx.Exec(ctx, `INSERT INTO tokens (digest, id, app_id, connection_id, user_id, code_digest, created_at, forwarded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.Digest, t.ID, t.AppID, t.ConnectionID, t.UserID, t.CodeDigest, nanos(t.CreatedAt), boolInt(t.Forwarded)); err != nil {
			if isUnique(err) {
				return bankgate.Errorf(bankgate.Conflict, "token already exists")
			}
			return fmt.Errorf("create token: %w", err)
		}
		if err := audit(ctx, tx, ex.Now, bankgate.AuditCodeExchanged, ex.AppID, ex.ConnectionID, "tokenID="+tokenID); err != nil {
			return err
		}
		ex.Token = t
		return nil
	})
	if err != nil {
		return err
	}
	if reused {
		return invalidCode()
	}
	return nil
}

// sqlExchange consumes a fresh access code ($2, of app $3 and connection
// $4, at $1), issues its token (digest $5, forwarded $8) and audits the
// exchange (audit id $6, kind $7), in one statement. It returns the
// token's id, user id and the connection's clientUserID, or no row when
// the code cannot be consumed. A connection that does not exist fails the
// whole statement (user_id is NOT NULL).
const sqlExchange = `WITH code AS (
	UPDATE access_codes SET used_at = $1
	WHERE digest = $2 AND app_id = $3 AND connection_id = $4 AND used_at = 0 AND expires_at > $1
	RETURNING token_id
), tok AS (
	INSERT INTO tokens (digest, id, app_id, connection_id, user_id, code_digest, created_at, forwarded)
	SELECT $5, code.token_id, $3, $4, (SELECT user_id FROM connections WHERE id = $4), $2, $1, $8 FROM code
	RETURNING id, user_id
), aud AS (
	INSERT INTO audit (id, at, kind, app_id, connection_id, detail)
	SELECT $6, $1, $7, $3, $4, 'tokenID=' || tok.id FROM tok
)
SELECT tok.id, tok.user_id, (SELECT client_user_id FROM connections WHERE id = $4) FROM tok`

// rejectCode handles a code that could not be consumed: when it was used
// before by the same app, it revokes what the first exchange issued. It
// returns nil with *reused set so that the revocation commits.
func rejectCode(ctx context.Context, tx pgx.Tx, ex *bankgate.Exchange, reused *bool) error {
	var appID, connID string
	var usedAt int64
	err := tx.QueryRow(ctx, `SELECT app_id, connection_id, used_at FROM access_codes WHERE digest = $1`, ex.CodeDigest).Scan(&appID, &connID, &usedAt)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (usedAt == 0 || appID != ex.AppID)) {
		return invalidCode()
	}
	if err != nil {
		return fmt.Errorf("read access code: %w", err)
	}
	*reused = true
	if err := audit(ctx, tx, ex.Now, bankgate.AuditCodeReused, appID, connID, ""); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `UPDATE tokens SET revoked_at = $1, revoke_reason = $2 WHERE code_digest = $3 AND revoked_at = 0 RETURNING id`,
		nanos(ex.Now), bankgate.RevokedCodeReuse, ex.CodeDigest)
	if err != nil {
		return fmt.Errorf("revoke tokens: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("revoke tokens: %w", err)
	}
	for _, id := range ids {
		if err := audit(ctx, tx, ex.Now, bankgate.AuditTokenRevoked, appID, connID, "tokenID="+id+" reason="+bankgate.RevokedCodeReuse); err != nil {
			return err
		}
	}
	return nil
}

const grantQuery = `SELECT t.id, t.digest, t.app_id, t.connection_id, t.user_id, t.code_digest, t.created_at, t.revoked_at, t.revoke_reason, t.forwarded,
	c.id, c.app_id, c.bank_id, c.user_id, c.client_user_id, c.user_secret_digest, c.sealed, c.created_at, c.delinked_at
	FROM tokens t JOIN connections c ON c.id = t.connection_id `

func (s *Store) grantWhere(ctx context.Context, where string, arg any) (*bankgate.Grant, error) {
	var out *bankgate.Grant
	err := s.read(ctx, readTimeout, func(ctx context.Context, conn *pgxpool.Conn) error {
		var g bankgate.Grant
		t, c := &g.Token, &g.Connection
		var tCreated, tRevoked, cCreated, cDelinked, forwarded int64
		err := conn.QueryRow(ctx, grantQuery+`WHERE `+where+` = $1`, arg).
			Scan(&t.ID, &t.Digest, &t.AppID, &t.ConnectionID, &t.UserID, &t.CodeDigest, &tCreated, &tRevoked, &t.RevokeReason, &forwarded,
				&c.ID, &c.AppID, &c.BankID, &c.UserID, &c.ClientUserID, &c.UserSecretDigest, &c.Sealed, &cCreated, &cDelinked)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("token")
		}
		if err != nil {
			return fmt.Errorf("read token: %w", err)
		}
		t.CreatedAt, t.RevokedAt, t.Forwarded = fromNanos(tCreated), fromNanos(tRevoked), forwarded != 0
		c.CreatedAt, c.DelinkedAt = fromNanos(cCreated), fromNanos(cDelinked)
		out = &g
		return nil
	})
	return out, err
}

// Grant implements bankgate.Store.
func (s *Store) Grant(ctx context.Context, digest []byte) (*bankgate.Grant, error) {
	return s.grantWhere(ctx, "t.digest", digest)
}

// GrantByTokenID implements bankgate.Store.
func (s *Store) GrantByTokenID(ctx context.Context, tokenID string) (*bankgate.Grant, error) {
	return s.grantWhere(ctx, "t.id", tokenID)
}

// DelinkConnection implements bankgate.Store. Marking the connection is one
// conditional UPDATE, so of two concurrent delinks only one revokes and
// audits.
func (s *Store) DelinkConnection(ctx context.Context, connID string, now time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var appID string
		err := tx.QueryRow(ctx, `UPDATE connections SET delinked_at = $1 WHERE id = $2 AND delinked_at = 0 RETURNING app_id`, nanos(now), connID).Scan(&appID)
		if errors.Is(err, pgx.ErrNoRows) {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM connections WHERE id = $1`, connID).Scan(&n); err != nil {
				return fmt.Errorf("read connection: %w", err)
			}
			if n == 0 {
				return notFound("connection")
			}
			return nil // already delinked
		}
		if err != nil {
			return fmt.Errorf("delink: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $1, revoke_reason = $2 WHERE connection_id = $3 AND revoked_at = 0`,
			nanos(now), bankgate.RevokedDelinked, connID); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		// Unused codes of the connection die with it.
		if _, err := tx.Exec(ctx, `UPDATE access_codes SET expires_at = $1 WHERE connection_id = $2 AND used_at = 0`, nanos(now), connID); err != nil {
			return fmt.Errorf("expire codes: %w", err)
		}
		return audit(ctx, tx, now, bankgate.AuditUserDelinked, appID, connID, "")
	})
}

// Operations.

// CreateOperation implements bankgate.Store.
func (s *Store) CreateOperation(ctx context.Context, op *bankgate.Operation) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO operations (id, app_id, connection_id, bank_id, endpoint, status, error_type, state, created_at, updated_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			op.ID, op.AppID, op.ConnectionID, op.BankID, op.Endpoint, op.Status, op.ErrorType, op.State, nanos(op.CreatedAt), nanos(op.UpdatedAt), nanos(op.ExpiresAt))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "operation already exists")
		}
		if err != nil {
			return fmt.Errorf("create operation: %w", err)
		}
		return nil
	})
}

// Operation implements bankgate.Store.
func (s *Store) Operation(ctx context.Context, id string) (*bankgate.Operation, error) {
	var out *bankgate.Operation
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		var op bankgate.Operation
		var created, updated, expires int64
		err := c.QueryRow(ctx, `SELECT id, app_id, connection_id, bank_id, endpoint, status, error_type, state, created_at, updated_at, expires_at FROM operations WHERE id = $1`, id).
			Scan(&op.ID, &op.AppID, &op.ConnectionID, &op.BankID, &op.Endpoint, &op.Status, &op.ErrorType, &op.State, &created, &updated, &expires)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("operation")
		}
		if err != nil {
			return fmt.Errorf("read operation: %w", err)
		}
		op.CreatedAt, op.UpdatedAt, op.ExpiresAt = fromNanos(created), fromNanos(updated), fromNanos(expires)
		out = &op
		return nil
	})
	return out, err
}

// UpdateOperation implements bankgate.Store.
func (s *Store) UpdateOperation(ctx context.Context, op *bankgate.Operation, fromStatus string) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE operations SET status = $1, error_type = $2, state = $3, updated_at = $4, expires_at = $5 WHERE id = $6 AND status = $7`,
			op.Status, op.ErrorType, op.State, nanos(op.UpdatedAt), nanos(op.ExpiresAt), op.ID, fromStatus)
		if err != nil {
			return fmt.Errorf("update operation: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return bankgate.Errorf(bankgate.Conflict, "operation changed")
		}
		return nil
	})
}

// DeleteExpired implements bankgate.Store.
func (s *Store) DeleteExpired(ctx context.Context, now, auditBefore time.Time) (int, error) {
	var total int64
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		total = 0
		for _, q := range []struct {
			sql string
			at  time.Time
		}{
			{`DELETE FROM operations WHERE expires_at < $1`, now},
			{`DELETE FROM connections WHERE id IN (SELECT connection_id FROM access_codes WHERE expires_at < $1 AND used_at = 0)`, now},
			{`DELETE FROM access_codes WHERE expires_at < $1 AND used_at = 0`, now},
			{`DELETE FROM audit WHERE at < $1`, auditBefore},
			{`DELETE FROM events WHERE stream >= 'changed/' AND stream < 'changed0' AND at < $1`, now.Add(-time.Hour)},
		} {
			tag, err := tx.Exec(ctx, q.sql, nanos(q.at))
			if err != nil {
				return fmt.Errorf("delete expired: %w", err)
			}
			total += tag.RowsAffected()
		}
		return nil
	})
	return int(total), err
}

// Audit and events.

// Audit implements bankgate.Store.
func (s *Store) Audit(ctx context.Context, appID string, limit int) ([]bankgate.AuditEvent, error) {
	var out []bankgate.AuditEvent
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		out = nil
		rows, err := c.Query(ctx, `SELECT id::text, at, kind, app_id, connection_id, detail FROM audit WHERE app_id = $1 ORDER BY at, id LIMIT $2`, appID, limit)
		if err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var e bankgate.AuditEvent
			var at int64
			if err := rows.Scan(&e.ID, &at, &e.Kind, &e.AppID, &e.ConnectionID, &e.Detail); err != nil {
				return fmt.Errorf("read audit: %w", err)
			}
			e.At = fromNanos(at)
			out = append(out, e)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		return nil
	})
	return out, err
}

// AppendEvent implements bankgate.Store.
func (s *Store) AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO events (stream, seq, at, body) VALUES ($1, $2, $3, $4)`, stream, seq, nanos(at), body)
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "event %d of %s already exists", seq, stream)
		}
		if err != nil {
			return fmt.Errorf("append event: %w", err)
		}
		return nil
	})
}

// Changes implements bankgate.Store with the events table's id column
// (a sequence): ids are taken when a row is inserted, so a transaction
// that commits late shows an id below ones already visible, and one that
// rolls back leaves a gap.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]bankgate.Change, error) {
	var out []bankgate.Change
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		out = nil
		rows, err := c.Query(ctx, `SELECT id, stream FROM events WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
		if err != nil {
			return fmt.Errorf("read changes: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var ch bankgate.Change
			if err := rows.Scan(&ch.Pos, &ch.Stream); err != nil {
				return fmt.Errorf("read changes: %w", err)
			}
			out = append(out, ch)
		}
		return rows.Err()
	})
	return out, err
}

// LastChange implements bankgate.Store.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var n int64
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		if err := c.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&n); err != nil {
			return fmt.Errorf("read last change: %w", err)
		}
		return nil
	})
	return n, err
}

// Events implements bankgate.Store.
func (s *Store) Events(ctx context.Context, stream string, after int64) ([]bankgate.Event, error) {
	var out []bankgate.Event
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		out = nil
		rows, err := c.Query(ctx, `SELECT seq, at, body FROM events WHERE stream = $1 AND seq > $2 ORDER BY seq`, stream, after)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var e bankgate.Event
			var at int64
			if err := rows.Scan(&e.Seq, &at, &e.Body); err != nil {
				return fmt.Errorf("read events: %w", err)
			}
			e.At = fromNanos(at)
			out = append(out, e)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		return nil
	})
	return out, err
}
