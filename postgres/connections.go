package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bankgate/bankgate"
)

// CreateConnection implements bankgate.Store.
func (s *Store) CreateConnection(ctx context.Context, c *bankgate.Connection, code *bankgate.AccessCode) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO connections (id, app_id, bank_id, user_id, client_user_id, user_secret_digest, sealed, created_at, delinked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)`,
			c.ID, c.AppID, c.BankID, c.UserID, c.ClientUserID, c.UserSecretDigest, c.Sealed, nanos(c.CreatedAt))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "connection already exists")
		}
		if err != nil {
			return fmt.Errorf("create connection: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO access_codes (digest, app_id, connection_id, token_id, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, 0)`,
			code.Digest, code.AppID, code.ConnectionID, code.TokenID, nanos(code.CreatedAt), nanos(code.ExpiresAt))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "access code already exists")
		}
		if err != nil {
			return fmt.Errorf("create access code: %w", err)
		}
		if err := audit(ctx, tx, c.CreatedAt, bankgate.AuditConnectionCreated, c.AppID, c.ID, "bank="+c.BankID); err != nil {
			return err
		}
		return audit(ctx, tx, code.CreatedAt, bankgate.AuditCodeIssued, code.AppID, c.ID, "tokenID="+code.TokenID)
	})
}

const connCols = `id, app_id, bank_id, user_id, client_user_id, user_secret_digest, sealed, created_at, delinked_at`

// Connection implements bankgate.Store.
func (s *Store) Connection(ctx context.Context, id string) (*bankgate.Connection, error) {
	var out *bankgate.Connection
	err := s.read(ctx, readTimeout, func(ctx context.Context, conn *pgxpool.Conn) error {
		var c bankgate.Connection
		var created, delinked int64
		err := conn.QueryRow(ctx, `SELECT `+connCols+` FROM connections WHERE id = $1`, id).
			Scan(&c.ID, &c.AppID, &c.BankID, &c.UserID, &c.ClientUserID, &c.UserSecretDigest, &c.Sealed, &created, &delinked)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("connection")
		}
		if err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		c.CreatedAt, c.DelinkedAt = fromNanos(created), fromNanos(delinked)
		out = &c
		return nil
	})
	return out, err
}

// DelinkConnection implements bankgate.Store. Marking the connection is one
// conditional UPDATE, so of two concurrent delinks only one revokes and
// audits.
func (s *Store) DelinkConnection(ctx context.Context, connID string, now time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var appID, bankID, clientUserID string
		err := tx.QueryRow(ctx, `UPDATE connections SET delinked_at = $1 WHERE id = $2 AND delinked_at = 0 RETURNING app_id, bank_id, client_user_id`, nanos(now), connID).Scan(&appID, &bankID, &clientUserID)
		if errors.Is(err, pgx.ErrNoRows) {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM connections WHERE id = $1`, connID).Scan(&n); err != nil {
				return fmt.Errorf("read connection: %w", err)
			}
			if n == 0 {
				return notFound("connection")
			}
			return nil // already delinked
		}
		if err != nil {
			return fmt.Errorf("delink: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $1, revoke_reason = $2 WHERE connection_id = $3 AND revoked_at = 0`,
			nanos(now), bankgate.RevokedDelinked, connID); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		// Unused codes of the connection die with it.
		if _, err := tx.Exec(ctx, `UPDATE access_codes SET expires_at = $1 WHERE connection_id = $2 AND used_at = 0`, nanos(now), connID); err != nil {
			return fmt.Errorf("expire codes: %w", err)
		}
		if _, err := enqueueWebhook(ctx, tx, bankgate.DelinkedWebhook(appID, connID, bankID, clientUserID, now)); err != nil {
			return err
		}
		return audit(ctx, tx, now, bankgate.AuditUserDelinked, appID, connID, "")
	})
}
