package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

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
