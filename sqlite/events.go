package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/bankgate/bankgate"
)

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
