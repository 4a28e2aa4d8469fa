package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bankgate/bankgate"
)

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
