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
	"fmt"
	"net/url"
	"sync"

	"github.com/bankgate/bankgate"
)

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
	path  string // the database file
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

// txStmt returns the prepared statement for query inside tx.
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
	s := &Store{w: w, path: path}
	if err := s.migrate(ctx, path); err != nil {
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
