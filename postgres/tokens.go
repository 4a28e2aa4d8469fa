package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bankgate/bankgate"
)

// ExchangeAccessCode implements bankgate.Store. The code is consumed by one
// conditional UPDATE; concurrent exchanges of one code queue on its row
// lock, and all but the first find it used.
func (s *Store) ExchangeAccessCode(ctx context.Context, ex *bankgate.Exchange) error {
	// The common case, a fresh code, is one statement and one round trip:
	// it consumes the code, issues the token and audits the exchange
	// atomically (an autocommit statement is its own transaction, and its
	// answer comes after the commit). Anything else (a used, unknown or
	// expired code) takes the transaction below, which tries the code again
	// and handles its reuse.
	if err := ctx.Err(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	t := ex.Token
	t.AppID, t.ConnectionID, t.CodeDigest, t.CreatedAt = ex.AppID, ex.ConnectionID, ex.CodeDigest, ex.Now
	auditID := uuid.Must(uuid.NewV7()).String()
	var err error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			backoff(wctx, attempt)
		}
		err = s.read1(wctx, func(ctx context.Context, c *pgxpool.Conn) error {
			return c.QueryRow(ctx, sqlExchange, nanos(ex.Now), ex.CodeDigest, ex.AppID, ex.ConnectionID, t.Digest, auditID, bankgate.AuditCodeExchanged, boolInt(t.Forwarded)).
				Scan(&t.ID, &t.UserID, &ex.ClientUserID)
		})
		if err == nil || !retryable(err) || wctx.Err() != nil {
			break
		}
	}
	switch {
	case err == nil:
		ex.Token = t
		return nil
	case isUnique(err):
		return bankgate.Errorf(bankgate.Conflict, "token already exists")
	case !errors.Is(err, pgx.ErrNoRows):
		return classify(fmt.Errorf("exchange access code: %w", err))
	}
	var reused bool
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		reused = false
		var tokenID string
		err := tx.QueryRow(ctx, `UPDATE access_codes SET used_at = $1
			WHERE digest = $2 AND app_id = $3 AND connection_id = $4 AND used_at = 0 AND expires_at > $1
			RETURNING token_id`,
			nanos(ex.Now), ex.CodeDigest, ex.AppID, ex.ConnectionID).Scan(&tokenID)
		if errors.Is(err, pgx.ErrNoRows) {
			return rejectCode(ctx, tx, ex, &reused)
		}
		if err != nil {
			return fmt.Errorf("consume access code: %w", err)
		}
		var userID string
		if err := tx.QueryRow(ctx, `SELECT user_id, client_user_id FROM connections WHERE id = $1`, ex.ConnectionID).Scan(&userID, &ex.ClientUserID); err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		t := ex.Token
		t.ID, t.UserID, t.AppID, t.ConnectionID, t.CodeDigest, t.CreatedAt = tokenID, userID, ex.AppID, ex.ConnectionID, ex.CodeDigest, ex.Now
		if _, err := tx.Exec(ctx, `INSERT INTO tokens (digest, id, app_id, connection_id, user_id, code_digest, created_at, forwarded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.Digest, t.ID, t.AppID, t.ConnectionID, t.UserID, t.CodeDigest, nanos(t.CreatedAt), boolInt(t.Forwarded)); err != nil {
			if isUnique(err) {
				return bankgate.Errorf(bankgate.Conflict, "token already exists")
			}
			return fmt.Errorf("create token: %w", err)
		}
		if err := audit(ctx, tx, ex.Now, bankgate.AuditCodeExchanged, ex.AppID, ex.ConnectionID, "tokenID="+tokenID); err != nil {
			return err
		}
		ex.Token = t
		return nil
	})
	if err != nil {
		return err
	}
	if reused {
		return invalidCode()
	}
	return nil
}

// sqlExchange consumes a fresh access code ($2, of app $3 and connection
// $4, at $1), issues its token (digest $5, forwarded $8) and audits the
// exchange (audit id $6, kind $7), in one statement. It returns the
// token's id, user id and the connection's clientUserID, or no row when
// the code cannot be consumed. A connection that does not exist fails the
// whole statement (user_id is NOT NULL).
const sqlExchange = `WITH code AS (
	UPDATE access_codes SET used_at = $1
	WHERE digest = $2 AND app_id = $3 AND connection_id = $4 AND used_at = 0 AND expires_at > $1
	RETURNING token_id
), tok AS (
	INSERT INTO tokens (digest, id, app_id, connection_id, user_id, code_digest, created_at, forwarded)
	SELECT $5, code.token_id, $3, $4, (SELECT user_id FROM connections WHERE id = $4), $2, $1, $8 FROM code
	RETURNING id, user_id
), aud AS (
	INSERT INTO audit (id, at, kind, app_id, connection_id, detail)
	SELECT $6, $1, $7, $3, $4, 'tokenID=' || tok.id FROM tok
)
SELECT tok.id, tok.user_id, (SELECT client_user_id FROM connections WHERE id = $4) FROM tok`

// rejectCode handles a code that could not be consumed: when it was used
// before by the same app, it revokes what the first exchange issued. It
// returns nil with *reused set so that the revocation commits.
func rejectCode(ctx context.Context, tx pgx.Tx, ex *bankgate.Exchange, reused *bool) error {
	var appID, connID, tokenID string
	var usedAt int64
	err := tx.QueryRow(ctx, `SELECT app_id, connection_id, token_id, used_at FROM access_codes WHERE digest = $1`, ex.CodeDigest).Scan(&appID, &connID, &tokenID, &usedAt)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (usedAt == 0 || appID != ex.AppID)) {
		return invalidCode()
	}
	if err != nil {
		return fmt.Errorf("read access code: %w", err)
	}
	*reused = true
	if err := audit(ctx, tx, ex.Now, bankgate.AuditCodeReused, appID, connID, ""); err != nil {
		return err
	}
	// The code's exchange issued the token the code names, found by its
	// ID (unique): tokens keep no index on their code's digest, one index
	// fewer for every exchange to write.
	rows, err := tx.Query(ctx, `UPDATE tokens SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND code_digest = $4 AND revoked_at = 0 RETURNING id`,
		nanos(ex.Now), bankgate.RevokedCodeReuse, tokenID, ex.CodeDigest)
	if err != nil {
		return fmt.Errorf("revoke tokens: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("revoke tokens: %w", err)
	}
	for _, id := range ids {
		if err := audit(ctx, tx, ex.Now, bankgate.AuditTokenRevoked, appID, connID, "tokenID="+id+" reason="+bankgate.RevokedCodeReuse); err != nil {
			return err
		}
	}
	_, err = enqueueWebhook(ctx, tx, bankgate.CodeReusedWebhook(appID, connID, ids, ex.Now))
	return err
}

const grantQuery = `SELECT t.id, t.digest, t.app_id, t.connection_id, t.user_id, t.code_digest, t.created_at, t.revoked_at, t.revoke_reason, t.forwarded,
	c.id, c.app_id, c.bank_id, c.user_id, c.client_user_id, c.user_secret_digest, c.sealed, c.created_at, c.delinked_at
	FROM tokens t JOIN connections c ON c.id = t.connection_id `

func (s *Store) grantWhere(ctx context.Context, where string, arg any) (*bankgate.Grant, error) {
	var out *bankgate.Grant
	err := s.read(ctx, readTimeout, func(ctx context.Context, conn *pgxpool.Conn) error {
		var g bankgate.Grant
		t, c := &g.Token, &g.Connection
		var tCreated, tRevoked, cCreated, cDelinked, forwarded int64
		err := conn.QueryRow(ctx, grantQuery+`WHERE `+where+` = $1`, arg).
			Scan(&t.ID, &t.Digest, &t.AppID, &t.ConnectionID, &t.UserID, &t.CodeDigest, &tCreated, &tRevoked, &t.RevokeReason, &forwarded,
				&c.ID, &c.AppID, &c.BankID, &c.UserID, &c.ClientUserID, &c.UserSecretDigest, &c.Sealed, &cCreated, &cDelinked)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("token")
		}
		if err != nil {
			return fmt.Errorf("read token: %w", err)
		}
		t.CreatedAt, t.RevokedAt, t.Forwarded = fromNanos(tCreated), fromNanos(tRevoked), forwarded != 0
		c.CreatedAt, c.DelinkedAt = fromNanos(cCreated), fromNanos(cDelinked)
		out = &g
		return nil
	})
	return out, err
}

// Grant implements bankgate.Store.
func (s *Store) Grant(ctx context.Context, digest []byte) (*bankgate.Grant, error) {
	return s.grantWhere(ctx, "t.digest", digest)
}

// GrantByTokenID implements bankgate.Store.
func (s *Store) GrantByTokenID(ctx context.Context, tokenID string) (*bankgate.Grant, error) {
	return s.grantWhere(ctx, "t.id", tokenID)
}
