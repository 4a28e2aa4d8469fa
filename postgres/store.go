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
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bankgate/bankgate"
)

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

// probeStream names the row ProbeWrite writes and deletes.
const probeStream = "bankgate/write-probe"

// ProbeWrite commits a write that needs new space (64 KiB written, then
// deleted, in one transaction) to tell whether the database takes writes
// again after it refused one: its error matches bankgate.ErrWriteRefused
// while the disk is full or the database read-only. Nothing is left
// behind; each probe uses its own row.
func (s *Store) ProbeWrite(ctx context.Context) error {
	seq := rand.Int64()
	// Random, so that TOAST cannot compress it away.
	body := make([]byte, 64<<10)
	crand.Read(body)
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO events (stream, seq, at, body) VALUES ($1, $2, 0, $3)`, probeStream, seq, body); err != nil {
			return fmt.Errorf("write probe: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM events WHERE stream = $1 AND seq = $2`, probeStream, seq); err != nil {
			return fmt.Errorf("write probe: %w", err)
		}
		return nil
	})
}
