package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bankgate/bankgate"
)

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
