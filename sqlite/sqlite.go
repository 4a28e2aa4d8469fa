// Package sqlite is bankgate's embedded store: one SQLite file in WAL mode
// through modernc.org/sqlite (no cgo). Writes go through a single connection
// with immediate transactions, so concurrent writers (including the
// `bankgate apps` commands in another process) serialise on the file lock;
// writes that wait for that connection commit together, each in its own
// savepoint (group commit, one fsync per group). Reads use a pool of
// read-only connections.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/bankgate/bankgate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of bankgate.Store.
type Store struct {
	w *sql.DB // one connection, immediate transactions
	r *sql.DB // read-only pool
	// wq admits one writer at a time, in arrival order. database/sql
	// hands a freed connection to a random waiter, which under load
	// starves some writers for hundreds of milliseconds.
	wq chan struct{}
	// pending are the writes waiting for the writer, in arrival order;
	// whoever gets the writer next runs them as one group (see tx1).
	mu      sync.Mutex
	pending []*write
	// Statements on the hot paths, prepared once.
	stmts map[string]*sql.Stmt
}

// Hot statements, prepared at Open on the writer (w:) or reader (r:) pool.
const (
	sqlAudit       = `INSERT INTO audit (id, at, kind, app_id, connection_id, detail) VALUES (?, ?, ?, ?, ?, ?)`
	sqlConsumeCode = `UPDATE access_codes SET used_at = ? WHERE digest = ? AND app_id = ? AND connection_id = ? AND used_at = 0 AND expires_at > ? RETURNING token_id`
	// sqlIssueToken inserts a token with its connection's user id, and
	// inserts nothing when the connection does not exist.
	sqlIssueToken = `INSERT INTO tokens (digest, id, app_id, connection_id, user_id, code_digest, created_at, forwarded)
		SELECT ?, ?, ?, id, user_id, ?, ?, ? FROM connections WHERE id = ? RETURNING user_id`
	sqlConnClientUserID = `SELECT client_user_id FROM connections WHERE id = ?`
	sqlInsertConn       = `INSERT INTO connections (id, app_id, bank_id, user_id, client_user_id, user_secret_digest, sealed, created_at, delinked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`
	sqlInsertCode       = `INSERT INTO access_codes (digest, app_id, connection_id, token_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, 0)`
	sqlAppendEvent      = `INSERT INTO events (stream, seq, at, body) VALUES (?, ?, ?, ?)`
	sqlEvents           = `SELECT seq, at, body FROM events WHERE stream = ? AND seq > ? ORDER BY seq`
	sqlGrantByToken     = grantQuery + `WHERE t.digest = ?`
	sqlAppBySecret      = `SELECT ` + appCols + ` FROM apps WHERE secret_digest = ?`
	// Each write of a group commit runs inside this savepoint.
	sqlSavepoint  = `SAVEPOINT write`
	sqlRollbackTo = `ROLLBACK TO write`
	sqlRelease    = `RELEASE write`
)

var writeStmts = []string{sqlSavepoint, sqlRollbackTo, sqlRelease, sqlAudit, sqlConsumeCode, sqlIssueToken, sqlInsertConn, sqlInsertCode, sqlAppendEvent, sqlConnClientUserID}
var readStmts = []string{sqlEvents, sqlGrantByToken, sqlAppBySecret}

// stmt returns the prepared statement for query inside tx.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	return tx.StmtContext(ctx, s.stmts["w:"+query])
}

var _ bankgate.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path, applies the
// embedded migrations, and returns the store.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	// A group commit dirties a few pages per write, at random places in
	// the indexes of digests; with SQLite's default 2 MiB page cache a
	// group spills pages to the WAL before it commits and reads them back.
	q.Add("_pragma", "cache_size(-16384)")
	// Savepoints (one per write of a group) journal the pages they
	// change; in memory that costs no system calls.
	q.Add("_pragma", "temp_store(MEMORY)")
	// Checkpoint every 32 MiB of WAL rather than 4 MiB: each commit
	// rewrites the same hot pages (index roots, table tails), and a
	// checkpoint copies each page once however often it was rewritten.
	q.Add("_pragma", "wal_autocheckpoint(8192)")
	q.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout(10000)")
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	r.SetConnMaxIdleTime(0)
	r.SetConnMaxLifetime(0)
	s.r = r
	s.wq = make(chan struct{}, 1)
	s.stmts = map[string]*sql.Stmt{}
	for _, q := range writeStmts {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		s.stmts["w:"+q] = st
	}
	for _, q := range readStmts {
		st, err := r.PrepareContext(ctx, q)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		s.stmts["r:"+q] = st
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
			return err
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

// Close closes the database.
func (s *Store) Close() error {
	for _, st := range s.stmts {
		st.Close()
	}
	if s.r == nil {
		return s.w.Close()
	}
	err := s.r.Close()
	if err2 := s.w.Close(); err == nil {
		err = err2
	}
	return err
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// txFunc is the body of a write transaction. It must use the ctx it is
// given (not a caller's): that one cannot be cancelled, because an
// interrupted statement would roll back the whole group it commits with.
type txFunc func(ctx context.Context, tx *sql.Tx) error

// maxGroup bounds how many waiting writes commit together.
const maxGroup = 128

// write is one write transaction waiting for the writer.
type write struct {
	ctx  context.Context
	fn   txFunc
	done chan error // buffered; receives the outcome once it is durable
}

// panicked carries a panic in a write's fn to the goroutine that asked
// for the write.
type panicked struct{ v any }

func (p panicked) Error() string { return fmt.Sprint("panic in write transaction: ", p.v) }

// tx runs fn in an immediate write transaction, retrying a few times when
// the database is busy. It returns once the transaction is committed (or
// has failed); fn's error is returned as is, and nothing fn wrote is kept.
func (s *Store) tx(ctx context.Context, fn txFunc) error {
	// A write, once admitted, completes even if the client goes away (its
	// retry then sees the outcome); and an uncancellable context spares
	// modernc SQLite a watcher per statement.
	ctx = context.WithoutCancel(ctx)
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.tx1(ctx, fn)
		if !isBusy(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
	var p panicked
	if errors.As(err, &p) {
		panic(p.v)
	}
	return err
}

// tx1 runs fn once, as part of a group commit: writes that arrive while
// another group is being written wait, in arrival order, and the first
// of them to get the writer runs all of them (up to maxGroup) in one
// transaction, each inside its own savepoint. So each write is still
// atomic and fails or succeeds on its own, later writes in a group see
// earlier ones exactly as if they had run one after another, and one
// commit (one fsync) makes the whole group durable. No write is answered
// before the commit that makes it durable.
func (s *Store) tx1(ctx context.Context, fn txFunc) error {
	w := &write{ctx: ctx, fn: fn, done: make(chan error, 1)}
	if s.wq == nil { // migrations, before the store is open
		s.runGroup([]*write{w})
		return <-w.done
	}
	s.mu.Lock()
	s.pending = append(s.pending, w)
	s.mu.Unlock()
	select {
	case err := <-w.done: // another writer ran it
		return err
	case s.wq <- struct{}{}:
	}
	defer func() { <-s.wq }()
	select {
	case err := <-w.done: // it was in the group that just released the writer
		return err
	default:
	}
	s.mu.Lock()
	n := min(len(s.pending), maxGroup)
	group := s.pending[:n:n]
	s.pending = append([]*write(nil), s.pending[n:]...)
	s.mu.Unlock()
	s.runGroup(group)
	return <-w.done
}

// testHookGroup, when set by a test, is called with the size of every
// group before it runs.
var testHookGroup func(n int)

// runGroup runs the writes in one transaction and sends each its
// outcome. A single write runs without savepoints.
func (s *Store) runGroup(group []*write) {
	if testHookGroup != nil {
		testHookGroup(len(group))
	}
	errs := make([]error, len(group))
	failAll := func(err error) {
		for _, w := range group {
			w.done <- err
		}
	}
	tx, err := s.w.BeginTx(group[0].ctx, nil)
	if err != nil {
		failAll(err)
		return
	}
	if len(group) == 1 {
		w := group[0]
		if err := call(w.ctx, tx, w.fn); err != nil {
			tx.Rollback()
			w.done <- err
			return
		}
		w.done <- tx.Commit()
		return
	}
	for i, w := range group {
		if _, err := s.txStmt(w.ctx, tx, sqlSavepoint).ExecContext(w.ctx); err != nil {
			tx.Rollback()
			failAll(fmt.Errorf("savepoint: %w", err))
			return
		}
		if errs[i] = call(w.ctx, tx, w.fn); errs[i] != nil {
			if _, err := s.txStmt(w.ctx, tx, sqlRollbackTo).ExecContext(w.ctx); err != nil {
				// SQLite rolled the whole transaction back (an I/O
				// error, say): nothing of the group is written.
				tx.Rollback()
				for j, w := range group {
					if j == i {
						w.done <- errs[i]
					} else {
						w.done <- fmt.Errorf("group commit: %w", err)
					}
				}
				return
			}
		}
		if _, err := s.txStmt(w.ctx, tx, sqlRelease).ExecContext(w.ctx); err != nil {
			tx.Rollback()
			failAll(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		failAll(err)
		return
	}
	for i, w := range group {
		w.done <- errs[i]
	}
}

// call runs fn, turning a panic into a panicked error that tx re-raises
// in the caller's goroutine.
func call(ctx context.Context, tx *sql.Tx, fn txFunc) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicked{v}
		}
	}()
	return fn(ctx, tx)
}

func isBusy(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		c := e.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

func isUnique(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

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

// audit records an audit event and, for kinds that change what caches
// hold, its change marker (bankgate.ChangeMarker), in tx.
func (s *Store) audit(ctx context.Context, tx *sql.Tx, at time.Time, kind, appID, connID, detail string) error {
	id := uuid.Must(uuid.NewV7()).String()
	if _, err := s.txStmt(ctx, tx, sqlAudit).ExecContext(ctx, id, nanos(at), kind, appID, connID, detail); err != nil {
		return err
	}
	if m := bankgate.ChangeMarker(kind, appID, connID, id); m != "" {
		if _, err := s.txStmt(ctx, tx, sqlAppendEvent).ExecContext(ctx, m, 1, nanos(at), []byte{}); err != nil {
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

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateApp implements bankgate.Store.
func (s *Store) CreateApp(ctx context.Context, app *bankgate.App) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO apps (id, name, app_key, secret_digest, created_at, secret_rotated_at, updated_at, allowed_origins, redirect_uris, bundle_ids, server_url, environment, forwarding)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			app.ID, app.Name, app.Key, app.SecretDigest, nanos(app.CreatedAt), nanos(app.SecretRotatedAt), nanos(app.CreatedAt),
			jsonList(app.AllowedOrigins), jsonList(app.RedirectURIs), jsonList(app.BundleIDs), app.ServerURL, app.Environment, boolInt(app.Forwarding))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "app already exists")
		}
		if err != nil {
			return fmt.Errorf("create app: %w", err)
		}
		return s.audit(ctx, tx, app.CreatedAt, bankgate.AuditAppCreated, app.ID, "", "name="+app.Name)
	})
}

const appCols = `id, name, app_key, secret_digest, created_at, secret_rotated_at, allowed_origins, redirect_uris, bundle_ids, server_url, clock_offset, environment, forwarding`

type scanner interface{ Scan(...any) error }

func scanApp(row scanner) (*bankgate.App, error) {
	var a bankgate.App
	var created, rotated, offset, forwarding int64
	var origins, uris, bundles string
	if err := row.Scan(&a.ID, &a.Name, &a.Key, &a.SecretDigest, &created, &rotated, &origins, &uris, &bundles, &a.ServerURL, &offset, &a.Environment, &forwarding); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("app")
		}
		return nil, fmt.Errorf("read app: %w", err)
	}
	a.CreatedAt, a.SecretRotatedAt = fromNanos(created), fromNanos(rotated)
	a.AllowedOrigins, a.RedirectURIs, a.BundleIDs = parseList(origins), parseList(uris), parseList(bundles)
	a.ClockOffset, a.Forwarding = time.Duration(offset), forwarding != 0
	return &a, nil
}

// App implements bankgate.Store.
func (s *Store) App(ctx context.Context, id string) (*bankgate.App, error) {
	return scanApp(s.r.QueryRowContext(ctx, `SELECT `+appCols+` FROM apps WHERE id = ?`, id))
}

// AppByKey implements bankgate.Store.
func (s *Store) AppByKey(ctx context.Context, key string) (*bankgate.App, error) {
	return scanApp(s.r.QueryRowContext(ctx, `SELECT `+appCols+` FROM apps WHERE app_key = ?`, key))
}

// AppBySecret implements bankgate.Store. Like Grant, it is on a hot path
// (every ExchangeToken), so its statement is prepared and not cancellable.
func (s *Store) AppBySecret(_ context.Context, digest []byte) (*bankgate.App, error) {
	return scanApp(s.stmts["r:"+sqlAppBySecret].QueryRow(digest))
}

// ListApps implements bankgate.Store.
func (s *Store) ListApps(ctx context.Context) ([]*bankgate.App, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+appCols+` FROM apps ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	defer rows.Close()
	var apps []*bankgate.App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		apps = append(apps, a)
	}
	return apps, rows.Err()
}

// RotateAppSecret implements bankgate.Store.
func (s *Store) RotateAppSecret(ctx context.Context, appID string, digest []byte, now time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE apps SET secret_digest = ?, secret_rotated_at = ?, updated_at = ? WHERE id = ?`, digest, nanos(now), nanos(now), appID)
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "secret already in use")
		}
		if err != nil {
			return fmt.Errorf("rotate app secret: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("app")
		}
		return s.audit(ctx, tx, now, bankgate.AuditSecretRotated, appID, "", "")
	})
}

// UpdateApp implements bankgate.Store.
func (s *Store) UpdateApp(ctx context.Context, appID string, now time.Time, fn func(*bankgate.App) error) (*bankgate.App, error) {
	var out *bankgate.App
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		a, err := scanApp(tx.QueryRowContext(ctx, `SELECT `+appCols+` FROM apps WHERE id = ?`, appID))
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE apps SET name = ?, allowed_origins = ?, redirect_uris = ?, bundle_ids = ?, updated_at = ?, server_url = ?, forwarding = ? WHERE id = ?`,
			a.Name, jsonList(a.AllowedOrigins), jsonList(a.RedirectURIs), jsonList(a.BundleIDs), nanos(now), a.ServerURL, boolInt(a.Forwarding), appID); err != nil {
			return fmt.Errorf("update app: %w", err)
		}
		out = a
		return s.audit(ctx, tx, now, bankgate.AuditAppUpdated, appID, "", "")
	})
	return out, err
}

// AdvanceAppClock implements bankgate.Store.
func (s *Store) AdvanceAppClock(ctx context.Context, appID string, d time.Duration, now time.Time) (time.Duration, error) {
	if d <= 0 || d > bankgate.MaxClockAdvance {
		return 0, bankgate.Errorf(bankgate.ParameterError, "a clock advance must be positive and at most %v", bankgate.MaxClockAdvance)
	}
	var out time.Duration
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var cur int64
		if err := tx.QueryRowContext(ctx, `SELECT clock_offset FROM apps WHERE id = ?`, appID).Scan(&cur); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("app")
			}
			return fmt.Errorf("advance app clock: %w", err)
		}
		if cur < 0 || time.Duration(cur) > bankgate.MaxClockOffset-d {
			return bankgate.Errorf(bankgate.ParameterError, "the app's clock may move at most %v in all", bankgate.MaxClockOffset)
		}
		out = time.Duration(cur) + d
		if _, err := tx.ExecContext(ctx, `UPDATE apps SET clock_offset = ?, updated_at = ? WHERE id = ?`, int64(out), nanos(now), appID); err != nil {
			return fmt.Errorf("advance app clock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE access_codes SET expires_at = expires_at - ? WHERE expires_at > ? AND app_id = ? AND used_at = 0`,
			int64(d), nanos(now), appID); err != nil {
			return fmt.Errorf("advance app clock: %w", err)
		}
		return s.audit(ctx, tx, now, bankgate.AuditClockAdvanced, appID, "", "offset="+out.String())
	})
	return out, err
}

// CreateConnection implements bankgate.Store.
func (s *Store) CreateConnection(ctx context.Context, c *bankgate.Connection, code *bankgate.AccessCode) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.txStmt(ctx, tx, sqlInsertConn).ExecContext(ctx,
			c.ID, c.AppID, c.BankID, c.UserID, c.ClientUserID, c.UserSecretDigest, c.Sealed, nanos(c.CreatedAt))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "connection already exists")
		}
		if err != nil {
			return fmt.Errorf("create connection: %w", err)
		}
		_, err = s.txStmt(ctx, tx, sqlInsertCode).ExecContext(ctx,
			code.Digest, code.AppID, code.ConnectionID, code.TokenID, nanos(code.CreatedAt), nanos(code.ExpiresAt))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "access code already exists")
		}
		if err != nil {
			return fmt.Errorf("create access code: %w", err)
		}
		if err := s.audit(ctx, tx, c.CreatedAt, bankgate.AuditConnectionCreated, c.AppID, c.ID, "bank="+c.BankID); err != nil {
			return err
		}
		return s.audit(ctx, tx, code.CreatedAt, bankgate.AuditCodeIssued, code.AppID, c.ID, "tokenID="+code.TokenID)
	})
}

const connCols = `id, app_id, bank_id, user_id, client_user_id, user_secret_digest, sealed, created_at, delinked_at`

func scanConn(row scanner) (*bankgate.Connection, error) {
	var c bankgate.Connection
	var created, delinked int64
	if err := row.Scan(&c.ID, &c.AppID, &c.BankID, &c.UserID, &c.ClientUserID, &c.UserSecretDigest, &c.Sealed, &created, &delinked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("connection")
		}
		return nil, fmt.Errorf("read connection: %w", err)
	}
	c.CreatedAt, c.DelinkedAt = fromNanos(created), fromNanos(delinked)
	return &c, nil
}

// Connection implements bankgate.Store.
func (s *Store) Connection(ctx context.Context, id string) (*bankgate.Connection, error) {
	return scanConn(s.r.QueryRowContext(ctx, `SELECT `+connCols+` FROM connections WHERE id = ?`, id))
}

// ExchangeAccessCode implements bankgate.Store.
func (s *Store) ExchangeAccessCode(ctx context.Context, ex *bankgate.Exchange) error {
	var reused bool
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		reused = false
		var tokenID string
		err := s.txStmt(ctx, tx, sqlConsumeCode).QueryRowContext(ctx,
			nanos(ex.Now), ex.CodeDigest, ex.AppID, ex.ConnectionID, nanos(ex.Now)).Scan(&tokenID)
		if errors.Is(err, sql.ErrNoRows) {
			return s.rejectCode(ctx, tx, ex, &reused)
		}
		if err != nil {
			return fmt.Errorf("consume access code: %w", err)
		}
		t := &ex.Token
		t.ID, t.AppID, t.ConnectionID, t.CodeDigest, t.CreatedAt = tokenID, ex.AppID, ex.ConnectionID, ex.CodeDigest, ex.Now
		err = s.txStmt(ctx, tx, sqlIssueToken).QueryRowContext(ctx,
			t.Digest, t.ID, t.AppID, t.CodeDigest, nanos(t.CreatedAt), boolInt(t.Forwarded), ex.ConnectionID).Scan(&t.UserID)
		if err != nil { // sql.ErrNoRows: the connection does not exist
			return fmt.Errorf("create token: %w", err)
		}
		if err := s.txStmt(ctx, tx, sqlConnClientUserID).QueryRowContext(ctx, ex.ConnectionID).Scan(&ex.ClientUserID); err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		return s.audit(ctx, tx, ex.Now, bankgate.AuditCodeExchanged, ex.AppID, ex.ConnectionID, "tokenID="+tokenID)
	})
	if err != nil {
		return err
	}
	if reused {
		return bankgate.Errorf(bankgate.InvalidAccessCode, "The access code is invalid, expired or already used.")
	}
	return nil
}

// rejectCode handles a code that could not be consumed: when it was used
// before by the same app, it revokes what the first exchange issued. It
// returns nil with *reused set so that the revocation commits.
func (s *Store) rejectCode(ctx context.Context, tx *sql.Tx, ex *bankgate.Exchange, reused *bool) error {
	var appID, connID string
	var usedAt int64
	err := tx.QueryRowContext(ctx, `SELECT app_id, connection_id, used_at FROM access_codes WHERE digest = ?`, ex.CodeDigest).Scan(&appID, &connID, &usedAt)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (usedAt == 0 || appID != ex.AppID)) {
		return bankgate.Errorf(bankgate.InvalidAccessCode, "The access code is invalid, expired or already used.")
	}
	if err != nil {
		return fmt.Errorf("read access code: %w", err)
	}
	*reused = true
	if err := s.audit(ctx, tx, ex.Now, bankgate.AuditCodeReused, appID, connID, ""); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `UPDATE tokens SET revoked_at = ?, revoke_reason = ? WHERE code_digest = ? AND revoked_at = 0 RETURNING id`,
		nanos(ex.Now), bankgate.RevokedCodeReuse, ex.CodeDigest)
	if err != nil {
		return fmt.Errorf("revoke tokens: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.audit(ctx, tx, ex.Now, bankgate.AuditTokenRevoked, appID, connID, "tokenID="+id+" reason="+bankgate.RevokedCodeReuse); err != nil {
			return err
		}
	}
	return nil
}

const grantQuery = `SELECT t.id, t.digest, t.app_id, t.connection_id, t.user_id, t.code_digest, t.created_at, t.revoked_at, t.revoke_reason, t.forwarded,
	c.id, c.app_id, c.bank_id, c.user_id, c.client_user_id, c.user_secret_digest, c.sealed, c.created_at, c.delinked_at
	FROM tokens t JOIN connections c ON c.id = t.connection_id `

func scanGrant(row scanner) (*bankgate.Grant, error) {
	var g bankgate.Grant
	t, c := &g.Token, &g.Connection
	var tCreated, tRevoked, cCreated, cDelinked, forwarded int64
	if err := row.Scan(&t.ID, &t.Digest, &t.AppID, &t.ConnectionID, &t.UserID, &t.CodeDigest, &tCreated, &tRevoked, &t.RevokeReason, &forwarded,
		&c.ID, &c.AppID, &c.BankID, &c.UserID, &c.ClientUserID, &c.UserSecretDigest, &c.Sealed, &cCreated, &cDelinked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("token")
		}
		return nil, fmt.Errorf("read token: %w", err)
	}
	t.CreatedAt, t.RevokedAt, c.CreatedAt, c.DelinkedAt = fromNanos(tCreated), fromNanos(tRevoked), fromNanos(cCreated), fromNanos(cDelinked)
	t.Forwarded = forwarded != 0
	return &g, nil
}

// Grant implements bankgate.Store. It deliberately does not pass ctx to
// the driver: it is on the hot path, and a cancellable query costs
// measurably more with modernc SQLite.
func (s *Store) Grant(_ context.Context, digest []byte) (*bankgate.Grant, error) {
	return scanGrant(s.stmts["r:"+sqlGrantByToken].QueryRow(digest))
}

// GrantByTokenID implements bankgate.Store.
func (s *Store) GrantByTokenID(ctx context.Context, tokenID string) (*bankgate.Grant, error) {
	return scanGrant(s.r.QueryRowContext(ctx, grantQuery+`WHERE t.id = ?`, tokenID))
}

// DelinkConnection implements bankgate.Store.
func (s *Store) DelinkConnection(ctx context.Context, connID string, now time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var appID string
		var delinked int64
		err := tx.QueryRowContext(ctx, `SELECT app_id, delinked_at FROM connections WHERE id = ?`, connID).Scan(&appID, &delinked)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("connection")
		}
		if err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		if delinked != 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE connections SET delinked_at = ? WHERE id = ?`, nanos(now), connID); err != nil {
			return fmt.Errorf("delink: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?, revoke_reason = ? WHERE connection_id = ? AND revoked_at = 0`,
			nanos(now), bankgate.RevokedDelinked, connID); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		// Unused codes of the connection die with it.
		if _, err := tx.ExecContext(ctx, `UPDATE access_codes SET expires_at = ? WHERE connection_id = ? AND used_at = 0`, nanos(now), connID); err != nil {
			return fmt.Errorf("expire codes: %w", err)
		}
		return s.audit(ctx, tx, now, bankgate.AuditUserDelinked, appID, connID, "")
	})
}

// CreateOperation implements bankgate.Store.
func (s *Store) CreateOperation(ctx context.Context, op *bankgate.Operation) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO operations (id, app_id, connection_id, bank_id, endpoint, status, error_type, state, created_at, updated_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
	var op bankgate.Operation
	var created, updated, expires int64
	err := s.r.QueryRowContext(ctx, `SELECT id, app_id, connection_id, bank_id, endpoint, status, error_type, state, created_at, updated_at, expires_at FROM operations WHERE id = ?`, id).
		Scan(&op.ID, &op.AppID, &op.ConnectionID, &op.BankID, &op.Endpoint, &op.Status, &op.ErrorType, &op.State, &created, &updated, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("operation")
	}
	if err != nil {
		return nil, fmt.Errorf("read operation: %w", err)
	}
	op.CreatedAt, op.UpdatedAt, op.ExpiresAt = fromNanos(created), fromNanos(updated), fromNanos(expires)
	return &op, nil
}

// UpdateOperation implements bankgate.Store.
func (s *Store) UpdateOperation(ctx context.Context, op *bankgate.Operation, fromStatus string) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE operations SET status = ?, error_type = ?, state = ?, updated_at = ?, expires_at = ? WHERE id = ? AND status = ?`,
			op.Status, op.ErrorType, op.State, nanos(op.UpdatedAt), nanos(op.ExpiresAt), op.ID, fromStatus)
		if err != nil {
			return fmt.Errorf("update operation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return bankgate.Errorf(bankgate.Conflict, "operation changed")
		}
		return nil
	})
}

// DeleteExpired implements bankgate.Store.
func (s *Store) DeleteExpired(ctx context.Context, now, auditBefore time.Time) (int, error) {
	var total int64
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		total = 0
		for _, q := range []struct {
			sql string
			at  time.Time
		}{
			{`DELETE FROM operations WHERE expires_at < ?`, now},
			{`DELETE FROM connections WHERE id IN (SELECT connection_id FROM access_codes WHERE expires_at < ? AND used_at = 0)`, now},
			{`DELETE FROM access_codes WHERE expires_at < ? AND used_at = 0`, now},
			{`DELETE FROM audit WHERE at < ?`, auditBefore},
			{`DELETE FROM events WHERE stream >= 'changed/' AND stream < 'changed0' AND at < ?`, now.Add(-time.Hour)},
		} {
			res, err := tx.ExecContext(ctx, q.sql, nanos(q.at))
			if err != nil {
				return fmt.Errorf("delete expired: %w", err)
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	return int(total), err
}

// Audit implements bankgate.Store.
func (s *Store) Audit(ctx context.Context, appID string, limit int) ([]bankgate.AuditEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, kind, app_id, connection_id, detail FROM audit WHERE app_id = ? ORDER BY at, id LIMIT ?`, appID, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	var out []bankgate.AuditEvent
	for rows.Next() {
		var e bankgate.AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.AppID, &e.ConnectionID, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AppendEvent implements bankgate.Store.
func (s *Store) AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.txStmt(ctx, tx, sqlAppendEvent).ExecContext(ctx, stream, seq, nanos(at), body)
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "event %d of %s already exists", seq, stream)
		}
		if err != nil {
			return fmt.Errorf("append event: %w", err)
		}
		return nil
	})
}

// Changes implements bankgate.Store with the events table's rowid: the
// single writer appends in rowid order, and events are never deleted, so
// positions appear in order and without gaps left open.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]bankgate.Change, error) {
	rows, err := s.r.QueryContext(context.WithoutCancel(ctx), `SELECT rowid, stream FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	defer rows.Close()
	var out []bankgate.Change
	for rows.Next() {
		var c bankgate.Change
		if err := rows.Scan(&c.Pos, &c.Stream); err != nil {
			return nil, fmt.Errorf("read changes: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// LastChange implements bankgate.Store.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(context.WithoutCancel(ctx), `SELECT coalesce(max(rowid), 0) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read last change: %w", err)
	}
	return n, nil
}

// Events implements bankgate.Store.
func (s *Store) Events(ctx context.Context, stream string, after int64) ([]bankgate.Event, error) {
	rows, err := s.stmts["r:"+sqlEvents].QueryContext(context.WithoutCancel(ctx), stream, after)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []bankgate.Event
	for rows.Next() {
		var e bankgate.Event
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Body); err != nil {
			return nil, err
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
