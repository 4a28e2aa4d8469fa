package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

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
	return classifyWrite(err)
}

// probeStream names the row ProbeWrite writes and deletes.
const probeStream = "bankgate/write-probe"

// ProbeWrite commits a write that needs new space (64 KiB written, then
// deleted, in one transaction) to tell whether the store takes writes
// again after it refused one: its error matches bankgate.ErrWriteRefused
// while the disk is full or the database read-only. Nothing is left
// behind.
func (s *Store) ProbeWrite(ctx context.Context) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (stream, seq, at, body) VALUES (?, 0, 0, zeroblob(65536))`, probeStream); err != nil {
			return fmt.Errorf("write probe: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE stream = ?`, probeStream); err != nil {
			return fmt.Errorf("write probe: %w", err)
		}
		return nil
	})
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
