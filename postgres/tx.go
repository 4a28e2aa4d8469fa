package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

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
