package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/bankgate/bankgate"
)

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
