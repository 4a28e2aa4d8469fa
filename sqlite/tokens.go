package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/bankgate/bankgate"
)

// ExchangeAccessCode implements bankgate.Store.
func (s *Store) ExchangeAccessCode(ctx context.Context, ex *bankgate.Exchange) error {
	var reused bool
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		reused = false
		var tokenID string
		err := s.txStmt(ctx, tx, sqlConsumeCode).QueryRowContext(ctx,
			nanos(ex.Now), ex.CodeDigest, ex.AppID, ex.ConnectionID, nanos(ex.Now)).Scan(&tokenID)
		if errors.Is(err, sql.ErrNoRows) {
			return s.rejectCode(ctx, tx, ex, &reused)
		}
		if err != nil {
			return fmt.Errorf("consume access code: %w", err)
		}
		t := &ex.Token
		t.ID, t.AppID, t.ConnectionID, t.CodeDigest, t.CreatedAt = tokenID, ex.AppID, ex.ConnectionID, ex.CodeDigest, ex.Now
		err = s.txStmt(ctx, tx, sqlIssueToken).QueryRowContext(ctx,
			t.Digest, t.ID, t.AppID, t.CodeDigest, nanos(t.CreatedAt), boolInt(t.Forwarded), ex.ConnectionID).Scan(&t.UserID)
		if err != nil { // sql.ErrNoRows: the connection does not exist
			return fmt.Errorf("create token: %w", err)
		}
		if err := s.txStmt(ctx, tx, sqlConnClientUserID).QueryRowContext(ctx, ex.ConnectionID).Scan(&ex.ClientUserID); err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		return s.audit(ctx, tx, ex.Now, bankgate.AuditCodeExchanged, ex.AppID, ex.ConnectionID, "tokenID="+tokenID)
	})
	if err != nil {
		return err
	}
	if reused {
		return bankgate.Errorf(bankgate.InvalidAccessCode, "The access code is invalid, expired or already used.")
	}
	return nil
}

// rejectCode handles a code that could not be consumed: when it was used
// before by the same app, it revokes what the first exchange issued. It
// returns nil with *reused set so that the revocation commits.
func (s *Store) rejectCode(ctx context.Context, tx *sql.Tx, ex *bankgate.Exchange, reused *bool) error {
	var appID, connID, tokenID string
	var usedAt int64
	err := tx.QueryRowContext(ctx, `SELECT app_id, connection_id, token_id, used_at FROM access_codes WHERE digest = ?`, ex.CodeDigest).Scan(&appID, &connID, &tokenID, &usedAt)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (usedAt == 0 || appID != ex.AppID)) {
		return bankgate.Errorf(bankgate.InvalidAccessCode, "The access code is invalid, expired or already used.")
	}
	if err != nil {
		return fmt.Errorf("read access code: %w", err)
	}
	*reused = true
	if err := s.audit(ctx, tx, ex.Now, bankgate.AuditCodeReused, appID, connID, ""); err != nil {
		return err
	}
	// The code's exchange issued the token the code names (its ID is
	// drawn with the code), found by the tokens' ID index: tokens keep no
	// index on their code's digest, one random page fewer for every
	// exchange to write.
	rows, err := tx.QueryContext(ctx, `UPDATE tokens SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND code_digest = ? AND revoked_at = 0 RETURNING id`,
		nanos(ex.Now), bankgate.RevokedCodeReuse, tokenID, ex.CodeDigest)
	if err != nil {
		return fmt.Errorf("revoke tokens: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.audit(ctx, tx, ex.Now, bankgate.AuditTokenRevoked, appID, connID, "tokenID="+id+" reason="+bankgate.RevokedCodeReuse); err != nil {
			return err
		}
	}
	_, err = enqueueWebhook(ctx, tx, bankgate.CodeReusedWebhook(appID, connID, ids, ex.Now))
	return err
}

const grantQuery = `SELECT t.id, t.digest, t.app_id, t.connection_id, t.user_id, t.code_digest, t.created_at, t.revoked_at, t.revoke_reason, t.forwarded,
	c.id, c.app_id, c.bank_id, c.user_id, c.client_user_id, c.user_secret_digest, c.sealed, c.created_at, c.delinked_at
	FROM tokens t JOIN connections c ON c.id = t.connection_id `

func scanGrant(row scanner) (*bankgate.Grant, error) {
	var g bankgate.Grant
	t, c := &g.Token, &g.Connection
	var tCreated, tRevoked, cCreated, cDelinked, forwarded int64
	if err := row.Scan(&t.ID, &t.Digest, &t.AppID, &t.ConnectionID, &t.UserID, &t.CodeDigest, &tCreated, &tRevoked, &t.RevokeReason, &forwarded,
		&c.ID, &c.AppID, &c.BankID, &c.UserID, &c.ClientUserID, &c.UserSecretDigest, &c.Sealed, &cCreated, &cDelinked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("token")
		}
		return nil, fmt.Errorf("read token: %w", err)
	}
	t.CreatedAt, t.RevokedAt, c.CreatedAt, c.DelinkedAt = fromNanos(tCreated), fromNanos(tRevoked), fromNanos(cCreated), fromNanos(cDelinked)
	t.Forwarded = forwarded != 0
	return &g, nil
}

// Grant implements bankgate.Store. It deliberately does not pass ctx to
// the driver: it is on the hot path, and a cancellable query costs
// measurably more with modernc SQLite.
func (s *Store) Grant(_ context.Context, digest []byte) (*bankgate.Grant, error) {
	return scanGrant(s.stmts["r:"+sqlGrantByToken].QueryRow(digest))
}

// GrantByTokenID implements bankgate.Store.
func (s *Store) GrantByTokenID(ctx context.Context, tokenID string) (*bankgate.Grant, error) {
	return scanGrant(s.r.QueryRowContext(ctx, grantQuery+`WHERE t.id = ?`, tokenID))
}
