package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bankgate/bankgate"
)

// CreateConnection implements bankgate.Store.
func (s *Store) CreateConnection(ctx context.Context, c *bankgate.Connection, code *bankgate.AccessCode) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.txStmt(ctx, tx, sqlInsertConn).ExecContext(ctx,
			c.ID, c.AppID, c.BankID, c.UserID, c.ClientUserID, c.UserSecretDigest, c.Sealed, nanos(c.CreatedAt))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "connection already exists")
		}
		if err != nil {
			return fmt.Errorf("create connection: %w", err)
		}
		_, err = s.txStmt(ctx, tx, sqlInsertCode).ExecContext(ctx,
			code.Digest, code.AppID, code.ConnectionID, code.TokenID, nanos(code.CreatedAt), nanos(code.ExpiresAt))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "access code already exists")
		}
		if err != nil {
			return fmt.Errorf("create access code: %w", err)
		}
		if err := s.audit(ctx, tx, c.CreatedAt, bankgate.AuditConnectionCreated, c.AppID, c.ID, "bank="+c.BankID); err != nil {
			return err
		}
		return s.audit(ctx, tx, code.CreatedAt, bankgate.AuditCodeIssued, code.AppID, c.ID, "tokenID="+code.TokenID)
	})
}

const connCols = `id, app_id, bank_id, user_id, client_user_id, user_secret_digest, sealed, created_at, delinked_at`

func scanConn(row scanner) (*bankgate.Connection, error) {
	var c bankgate.Connection
	var created, delinked int64
	if err := row.Scan(&c.ID, &c.AppID, &c.BankID, &c.UserID, &c.ClientUserID, &c.UserSecretDigest, &c.Sealed, &created, &delinked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("connection")
		}
		return nil, fmt.Errorf("read connection: %w", err)
	}
	c.CreatedAt, c.DelinkedAt = fromNanos(created), fromNanos(delinked)
	return &c, nil
}

// Connection implements bankgate.Store.
func (s *Store) Connection(ctx context.Context, id string) (*bankgate.Connection, error) {
	return scanConn(s.r.QueryRowContext(ctx, `SELECT `+connCols+` FROM connections WHERE id = ?`, id))
}

// DelinkConnection implements bankgate.Store.
func (s *Store) DelinkConnection(ctx context.Context, connID string, now time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var appID, bankID, clientUserID string
		var delinked int64
		err := tx.QueryRowContext(ctx, `SELECT app_id, bank_id, client_user_id, delinked_at FROM connections WHERE id = ?`, connID).Scan(&appID, &bankID, &clientUserID, &delinked)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("connection")
		}
		if err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		if delinked != 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE connections SET delinked_at = ? WHERE id = ?`, nanos(now), connID); err != nil {
			return fmt.Errorf("delink: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?, revoke_reason = ? WHERE connection_id = ? AND revoked_at = 0`,
			nanos(now), bankgate.RevokedDelinked, connID); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		// Unused codes of the connection die with it.
		if _, err := tx.ExecContext(ctx, `UPDATE access_codes SET expires_at = ? WHERE connection_id = ? AND used_at = 0`, nanos(now), connID); err != nil {
			return fmt.Errorf("expire codes: %w", err)
		}
		if _, err := enqueueWebhook(ctx, tx, bankgate.DelinkedWebhook(appID, connID, bankID, clientUserID, now)); err != nil {
			return err
		}
		return s.audit(ctx, tx, now, bankgate.AuditUserDelinked, appID, connID, "")
	})
}
