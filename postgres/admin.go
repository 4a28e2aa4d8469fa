package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bankgate/bankgate"
)

// The operator plane's methods (bankgate.OperatorStore). Rows an operator
// changes are locked (SELECT ... FOR UPDATE) so that concurrent changes
// serialise and each is audited once.

// RotateAppSecretUntil implements bankgate.Store.
func (s *Store) RotateAppSecretUntil(ctx context.Context, appID string, digest []byte, now, oldUntil time.Time, detail string) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		var n int64
		if oldUntil.After(now) {
			tag, e := tx.Exec(ctx, `UPDATE apps SET prev_secret_digest = secret_digest, prev_secret_until = $1, secret_digest = $2, secret_rotated_at = $3, updated_at = $3 WHERE id = $4`,
				nanos(oldUntil), digest, nanos(now), appID)
			err, n = e, tag.RowsAffected()
		} else {
			tag, e := tx.Exec(ctx, `UPDATE apps SET prev_secret_digest = NULL, prev_secret_until = 0, secret_digest = $1, secret_rotated_at = $2, updated_at = $2 WHERE id = $3`,
				digest, nanos(now), appID)
			err, n = e, tag.RowsAffected()
		}
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "secret already in use")
		}
		if err != nil {
			return fmt.Errorf("rotate app secret: %w", err)
		}
		if n == 0 {
			return notFound("app")
		}
		return audit(ctx, tx, now, bankgate.AuditSecretRotated, appID, "", detail)
	})
}

// AppByPrevSecret implements bankgate.Store.
func (s *Store) AppByPrevSecret(ctx context.Context, digest []byte, now time.Time) (*bankgate.App, error) {
	var a *bankgate.App
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		var err error
		a, err = scanApp(c.QueryRow(ctx, `SELECT `+appCols+` FROM apps WHERE prev_secret_digest = $1 AND prev_secret_until > $2`, digest, nanos(now)))
		return err
	})
	return a, err
}

// lockApp reads the app for update in tx.
func lockApp(ctx context.Context, tx pgx.Tx, appID string) (*bankgate.App, error) {
	return scanApp(tx.QueryRow(ctx, `SELECT `+appCols+` FROM apps WHERE id = $1 FOR UPDATE`, appID))
}

// SetAppDisabled implements bankgate.Store.
func (s *Store) SetAppDisabled(ctx context.Context, appID string, disabled bool, now time.Time, detail string) (*bankgate.App, error) {
	var out *bankgate.App
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		a, err := lockApp(ctx, tx, appID)
		if err != nil {
			return err
		}
		out = a
		if a.Disabled() == disabled {
			return nil
		}
		kind, at := bankgate.AuditAppEnabled, time.Time{}
		if disabled {
			kind, at = bankgate.AuditAppDisabled, now
		}
		if _, err := tx.Exec(ctx, `UPDATE apps SET disabled_at = $1, updated_at = $2 WHERE id = $3`, nanos(at), nanos(now), appID); err != nil {
			return fmt.Errorf("disable app: %w", err)
		}
		a.DisabledAt = at
		return audit(ctx, tx, now, kind, appID, "", detail)
	})
	return out, err
}

// SetAppEnvironment implements bankgate.Store.
func (s *Store) SetAppEnvironment(ctx context.Context, appID, environment string, now time.Time, detail string) (*bankgate.App, error) {
	var out *bankgate.App
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		a, err := lockApp(ctx, tx, appID)
		if err != nil {
			return err
		}
		out = a
		if a.Environment == environment {
			return nil
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM connections WHERE app_id = $1 AND delinked_at = 0 AND revoked_at = 0`, appID).Scan(&n); err != nil {
			return fmt.Errorf("count connections: %w", err)
		}
		if n > 0 {
			return bankgate.Errorf(bankgate.Conflict, "the app has %d linked connections; revoke them before changing its environment", n)
		}
		if _, err := tx.Exec(ctx, `UPDATE apps SET environment = $1, updated_at = $2 WHERE id = $3`, environment, nanos(now), appID); err != nil {
			return fmt.Errorf("set app environment: %w", err)
		}
		a.Environment = environment
		return audit(ctx, tx, now, bankgate.AuditAppUpdated, appID, "", detail)
	})
	return out, err
}

// ResetAppSandbox implements bankgate.Store.
func (s *Store) ResetAppSandbox(ctx context.Context, appID string, now time.Time, detail string) (*bankgate.App, error) {
	var out *bankgate.App
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		a, err := scanApp(tx.QueryRow(ctx, `UPDATE apps SET clock_offset = 0, sandbox_epoch = sandbox_epoch + 1, updated_at = $1 WHERE id = $2 RETURNING `+appCols, nanos(now), appID))
		if err != nil {
			return err
		}
		out = a
		return audit(ctx, tx, now, bankgate.AuditSandboxReset, appID, "", detail+" epoch="+strconv.FormatInt(a.SandboxEpoch, 10))
	})
	return out, err
}

// RevokeAppTokens implements bankgate.Store. The app row is locked, so
// that two kill switches pulled at once count each token once.
func (s *Store) RevokeAppTokens(ctx context.Context, appID string, before, now time.Time, detail string) (int, error) {
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := lockApp(ctx, tx, appID); err != nil {
			return err
		}
		cut := int64(1<<63 - 1)
		if !before.IsZero() {
			cut = nanos(before)
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET revoked_at = $1 WHERE app_id = $2 AND delinked_at = 0 AND revoked_at = 0 AND id IN (
				SELECT connection_id FROM tokens WHERE app_id = $2 AND revoked_at = 0 AND created_at < $3
				UNION SELECT connection_id FROM access_codes WHERE app_id = $2 AND used_at = 0 AND expires_at > $1 AND created_at < $3)`,
			nanos(now), appID, cut); err != nil {
			return fmt.Errorf("revoke connections: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $1, revoke_reason = $2 WHERE app_id = $3 AND revoked_at = 0 AND created_at < $4`,
			nanos(now), bankgate.RevokedByAdmin, appID, cut)
		if err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		n = tag.RowsAffected()
		if _, err := tx.Exec(ctx, `UPDATE access_codes SET expires_at = $1 WHERE app_id = $2 AND used_at = 0 AND expires_at > $1 AND created_at < $3`,
			nanos(now), appID, cut); err != nil {
			return fmt.Errorf("expire codes: %w", err)
		}
		if _, err := enqueueWebhook(ctx, tx, bankgate.AppTokensRevokedWebhook(appID, int(n), before, now)); err != nil {
			return err
		}
		return audit(ctx, tx, now, bankgate.AuditTokensRevoked, appID, "", detail+" count="+strconv.FormatInt(n, 10))
	})
	return int(n), err
}

// RevokeConnection implements bankgate.Store.
func (s *Store) RevokeConnection(ctx context.Context, connID string, now time.Time, detail string) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var appID string
		var delinked, revoked int64
		err := tx.QueryRow(ctx, `SELECT app_id, delinked_at, revoked_at FROM connections WHERE id = $1 FOR UPDATE`, connID).Scan(&appID, &delinked, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("connection")
		}
		if err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		if delinked != 0 || revoked != 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE connections SET revoked_at = $1 WHERE id = $2`, nanos(now), connID); err != nil {
			return fmt.Errorf("revoke connection: %w", err)
		}
		rows, err := tx.Query(ctx, `UPDATE tokens SET revoked_at = $1, revoke_reason = $2 WHERE connection_id = $3 AND revoked_at = 0 RETURNING id`,
			nanos(now), bankgate.RevokedByAdmin, connID)
		if err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE access_codes SET expires_at = $1 WHERE connection_id = $2 AND used_at = 0 AND expires_at > $1`, nanos(now), connID); err != nil {
			return fmt.Errorf("expire codes: %w", err)
		}
		if _, err := enqueueWebhook(ctx, tx, bankgate.ConnectionRevokedWebhook(appID, connID, ids, now)); err != nil {
			return err
		}
		return audit(ctx, tx, now, bankgate.AuditConnectionRevoked, appID, connID, detail)
	})
}

// TouchConnections implements bankgate.Store.
func (s *Store) TouchConnections(ctx context.Context, connIDs []string, at time.Time) error {
	if len(connIDs) == 0 {
		return nil
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE connections SET last_used_at = $1 WHERE id = ANY($2) AND last_used_at < $1`, nanos(at), connIDs); err != nil {
			return fmt.Errorf("touch connections: %w", err)
		}
		return nil
	})
}

// AppStats implements bankgate.Store.
func (s *Store) AppStats(ctx context.Context) (map[string]bankgate.AppStats, error) {
	var out map[string]bankgate.AppStats
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		out = map[string]bankgate.AppStats{}
		rows, err := c.Query(ctx, `SELECT app_id, sum(conns), sum(tokens) FROM (
				SELECT app_id, count(*) AS conns, 0 AS tokens FROM connections WHERE delinked_at = 0 AND revoked_at = 0 GROUP BY app_id
				UNION ALL SELECT app_id, 0, count(*) FROM tokens WHERE revoked_at = 0 GROUP BY app_id) AS x GROUP BY app_id`)
		if err != nil {
			return fmt.Errorf("app stats: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var conns, tokens int64
			if err := rows.Scan(&id, &conns, &tokens); err != nil {
				return fmt.Errorf("app stats: %w", err)
			}
			out[id] = bankgate.AppStats{Connections: int(conns), Tokens: int(tokens)}
		}
		return rows.Err()
	})
	return out, err
}

const connInfoCols = `id, app_id, bank_id, user_id, client_user_id, created_at, delinked_at, revoked_at, last_used_at`

func scanConnInfo(row pgx.Row) (*bankgate.ConnectionInfo, error) {
	var c bankgate.ConnectionInfo
	var created, delinked, revoked, used int64
	if err := row.Scan(&c.ID, &c.AppID, &c.BankID, &c.UserID, &c.ClientUserID, &created, &delinked, &revoked, &used); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, notFound("connection")
		}
		return nil, fmt.Errorf("read connection: %w", err)
	}
	c.CreatedAt, c.DelinkedAt, c.RevokedAt, c.LastUsedAt = fromNanos(created), fromNanos(delinked), fromNanos(revoked), fromNanos(used)
	return &c, nil
}

// ConnectionInfos implements bankgate.Store.
func (s *Store) ConnectionInfos(ctx context.Context, q bankgate.ConnectionQuery) ([]bankgate.ConnectionInfo, error) {
	args := []any{q.AppID}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := `app_id = $1`
	if q.BankID != "" {
		where += ` AND bank_id = ` + arg(q.BankID)
	}
	if q.ClientUserID != "" {
		where += ` AND client_user_id = ` + arg(q.ClientUserID)
	}
	if !q.CreatedAfter.IsZero() {
		where += ` AND created_at > ` + arg(nanos(q.CreatedAfter))
	}
	if !q.CreatedBefore.IsZero() {
		where += ` AND created_at < ` + arg(nanos(q.CreatedBefore))
	}
	switch q.State {
	case bankgate.ConnActive:
		where += ` AND delinked_at = 0 AND revoked_at = 0`
	case bankgate.ConnDelinked:
		where += ` AND delinked_at != 0`
	case bankgate.ConnRevoked:
		where += ` AND delinked_at = 0 AND revoked_at != 0`
	}
	if q.AfterID != "" {
		at := arg(nanos(q.AfterCreated))
		where += ` AND (created_at < ` + at + ` OR (created_at = ` + at + ` AND id < ` + arg(q.AfterID) + `))`
	}
	query := `SELECT ` + connInfoCols + ` FROM connections WHERE ` + where + ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(q.Limit)
	var out []bankgate.ConnectionInfo
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		out = nil
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("list connections: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			ci, err := scanConnInfo(rows)
			if err != nil {
				return err
			}
			out = append(out, *ci)
		}
		return rows.Err()
	})
	return out, err
}

// ConnectionInfo implements bankgate.Store.
func (s *Store) ConnectionInfo(ctx context.Context, id string) (*bankgate.ConnectionInfo, error) {
	var out *bankgate.ConnectionInfo
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		var err error
		out, err = scanConnInfo(c.QueryRow(ctx, `SELECT `+connInfoCols+` FROM connections WHERE id = $1`, id))
		return err
	})
	return out, err
}

// ConnectionTokens implements bankgate.Store.
func (s *Store) ConnectionTokens(ctx context.Context, connID string) ([]bankgate.Token, error) {
	var out []bankgate.Token
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		out = nil
		rows, err := c.Query(ctx, `SELECT id, app_id, connection_id, user_id, created_at, revoked_at, revoke_reason, forwarded FROM tokens WHERE connection_id = $1 ORDER BY created_at, id`, connID)
		if err != nil {
			return fmt.Errorf("read tokens: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var t bankgate.Token
			var created, revoked, fwd int64
			if err := rows.Scan(&t.ID, &t.AppID, &t.ConnectionID, &t.UserID, &created, &revoked, &t.RevokeReason, &fwd); err != nil {
				return fmt.Errorf("read tokens: %w", err)
			}
			t.CreatedAt, t.RevokedAt, t.Forwarded = fromNanos(created), fromNanos(revoked), fwd != 0
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, err
}

// SearchAudit implements bankgate.Store.
func (s *Store) SearchAudit(ctx context.Context, q bankgate.AuditQuery) ([]bankgate.AuditEvent, error) {
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := `true`
	if q.AppID != "" {
		where += ` AND app_id = ` + arg(q.AppID)
	}
	if q.ConnectionID != "" {
		where += ` AND connection_id = ` + arg(q.ConnectionID)
	}
	if q.Kind != "" {
		where += ` AND kind = ` + arg(q.Kind)
	}
	if !q.Before.IsZero() {
		where += ` AND at < ` + arg(nanos(q.Before))
	}
	if q.BeforeID != "" {
		if _, err := uuid.Parse(q.BeforeID); err != nil {
			return nil, bankgate.Errorf(bankgate.ParameterError, "bad audit cursor")
		}
		at := arg(nanos(q.BeforeAt))
		where += ` AND (at < ` + at + ` OR (at = ` + at + ` AND id < ` + arg(q.BeforeID) + `::uuid))`
	}
	query := `SELECT id::text, at, kind, app_id, connection_id, detail FROM audit WHERE ` + where + ` ORDER BY at DESC, id DESC LIMIT ` + arg(q.Limit)
	var out []bankgate.AuditEvent
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		out = nil
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("search audit: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var e bankgate.AuditEvent
			var at int64
			if err := rows.Scan(&e.ID, &at, &e.Kind, &e.AppID, &e.ConnectionID, &e.Detail); err != nil {
				return fmt.Errorf("search audit: %w", err)
			}
			e.At = fromNanos(at)
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// RecordAudit implements bankgate.Store.
func (s *Store) RecordAudit(ctx context.Context, e *bankgate.AuditEvent) error {
	if bankgate.ChangeMarker(e.Kind, e.AppID, e.ConnectionID, "x") != "" {
		return fmt.Errorf("record audit: kind %q changes cached state; its store method audits it", e.Kind)
	}
	e.ID = uuid.Must(uuid.NewV7()).String()
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO audit (id, at, kind, app_id, connection_id, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
			e.ID, nanos(e.At), e.Kind, e.AppID, e.ConnectionID, e.Detail)
		if err != nil {
			return fmt.Errorf("record audit: %w", err)
		}
		return nil
	})
}
