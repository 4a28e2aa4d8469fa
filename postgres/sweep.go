package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

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
