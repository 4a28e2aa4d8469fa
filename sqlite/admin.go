package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/bankgate/bankgate"
)

// The operator plane's methods (bankgate.OperatorStore).

// RotateAppSecretUntil implements bankgate.Store.
func (s *Store) RotateAppSecretUntil(ctx context.Context, appID string, digest []byte, now, oldUntil time.Time, detail string) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		var res sql.Result
		if oldUntil.After(now) {
			res, err = tx.ExecContext(ctx, `UPDATE apps SET prev_secret_digest = secret_digest, prev_secret_until = ?, secret_digest = ?, secret_rotated_at = ?, updated_at = ? WHERE id = ?`,
				nanos(oldUntil), digest, nanos(now), nanos(now), appID)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE apps SET prev_secret_digest = NULL, prev_secret_until = 0, secret_digest = ?, secret_rotated_at = ?, updated_at = ? WHERE id = ?`,
				digest, nanos(now), nanos(now), appID)
		}
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "secret already in use")
		}
		if err != nil {
			return fmt.Errorf("rotate app secret: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("app")
		}
		return s.audit(ctx, tx, now, bankgate.AuditSecretRotated, appID, "", detail)
	})
}

// AppByPrevSecret implements bankgate.Store.
func (s *Store) AppByPrevSecret(ctx context.Context, digest []byte, now time.Time) (*bankgate.App, error) {
	return scanApp(s.r.QueryRowContext(ctx, `SELECT `+appCols+` FROM apps WHERE prev_secret_digest = ? AND prev_secret_until > ?`, digest, nanos(now)))
}

// SetAppDisabled implements bankgate.Store.
func (s *Store) SetAppDisabled(ctx context.Context, appID string, disabled bool, now time.Time, detail string) (*bankgate.App, error) {
	var out *bankgate.App
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		a, err := scanApp(tx.QueryRowContext(ctx, `SELECT `+appCols+` FROM apps WHERE id = ?`, appID))
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
		if _, err := tx.ExecContext(ctx, `UPDATE apps SET disabled_at = ?, updated_at = ? WHERE id = ?`, nanos(at), nanos(now), appID); err != nil {
			return fmt.Errorf("disable app: %w", err)
		}
		a.DisabledAt = at
		return s.audit(ctx, tx, now, kind, appID, "", detail)
	})
	return out, err
}

// SetAppEnvironment implements bankgate.Store.
func (s *Store) SetAppEnvironment(ctx context.Context, appID, environment string, now time.Time, detail string) (*bankgate.App, error) {
	var out *bankgate.App
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		a, err := scanApp(tx.QueryRowContext(ctx, `SELECT `+appCols+` FROM apps WHERE id = ?`, appID))
		if err != nil {
			return err
		}
		out = a
		if a.Environment == environment {
			return nil
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM connections WHERE app_id = ? AND delinked_at = 0 AND revoked_at = 0`, appID).Scan(&n); err != nil {
			return fmt.Errorf("count connections: %w", err)
		}
		if n > 0 {
			return bankgate.Errorf(bankgate.Conflict, "the app has %d linked connections; revoke them before changing its environment", n)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE apps SET environment = ?, updated_at = ? WHERE id = ?`, environment, nanos(now), appID); err != nil {
			return fmt.Errorf("set app environment: %w", err)
		}
		a.Environment = environment
		return s.audit(ctx, tx, now, bankgate.AuditAppUpdated, appID, "", detail)
	})
	return out, err
}

// ResetAppSandbox implements bankgate.Store.
func (s *Store) ResetAppSandbox(ctx context.Context, appID string, now time.Time, detail string) (*bankgate.App, error) {
	var out *bankgate.App
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		a, err := scanApp(tx.QueryRowContext(ctx, `UPDATE apps SET clock_offset = 0, sandbox_epoch = sandbox_epoch + 1, updated_at = ? WHERE id = ? RETURNING `+appCols, nanos(now), appID))
		if err != nil {
			return err
		}
		out = a
		return s.audit(ctx, tx, now, bankgate.AuditSandboxReset, appID, "", detail+" epoch="+strconv.FormatInt(a.SandboxEpoch, 10))
	})
	return out, err
}

// RevokeAppTokens implements bankgate.Store.
func (s *Store) RevokeAppTokens(ctx context.Context, appID string, before, now time.Time, detail string) (int, error) {
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM apps WHERE id = ?`, appID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("app")
			}
			return fmt.Errorf("revoke app tokens: %w", err)
		}
		cut := int64(1<<63 - 1)
		if !before.IsZero() {
			cut = nanos(before)
		}
		// Connections first, while their tokens still show unrevoked.
		if _, err := tx.ExecContext(ctx, `UPDATE connections SET revoked_at = ? WHERE app_id = ? AND delinked_at = 0 AND revoked_at = 0 AND id IN (
				SELECT connection_id FROM tokens WHERE app_id = ? AND revoked_at = 0 AND created_at < ?
				UNION SELECT connection_id FROM access_codes WHERE app_id = ? AND used_at = 0 AND expires_at > ? AND created_at < ?)`,
			nanos(now), appID, appID, cut, appID, nanos(now), cut); err != nil {
			return fmt.Errorf("revoke connections: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?, revoke_reason = ? WHERE app_id = ? AND revoked_at = 0 AND created_at < ?`,
			nanos(now), bankgate.RevokedByAdmin, appID, cut)
		if err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		n, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `UPDATE access_codes SET expires_at = ? WHERE app_id = ? AND used_at = 0 AND expires_at > ? AND created_at < ?`,
			nanos(now), appID, nanos(now), cut); err != nil {
			return fmt.Errorf("expire codes: %w", err)
		}
		if _, err := enqueueWebhook(ctx, tx, bankgate.AppTokensRevokedWebhook(appID, int(n), before, now)); err != nil {
			return err
		}
		return s.audit(ctx, tx, now, bankgate.AuditTokensRevoked, appID, "", detail+" count="+strconv.FormatInt(n, 10))
	})
	return int(n), err
}

// RevokeConnection implements bankgate.Store.
func (s *Store) RevokeConnection(ctx context.Context, connID string, now time.Time, detail string) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var appID string
		var delinked, revoked int64
		err := tx.QueryRowContext(ctx, `SELECT app_id, delinked_at, revoked_at FROM connections WHERE id = ?`, connID).Scan(&appID, &delinked, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("connection")
		}
		if err != nil {
			return fmt.Errorf("read connection: %w", err)
		}
		if delinked != 0 || revoked != 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE connections SET revoked_at = ? WHERE id = ?`, nanos(now), connID); err != nil {
			return fmt.Errorf("revoke connection: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `UPDATE tokens SET revoked_at = ?, revoke_reason = ? WHERE connection_id = ? AND revoked_at = 0 RETURNING id`,
			nanos(now), bankgate.RevokedByAdmin, connID)
		if err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		ids, err := scanIDs(rows)
		if err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE access_codes SET expires_at = ? WHERE connection_id = ? AND used_at = 0 AND expires_at > ?`, nanos(now), connID, nanos(now)); err != nil {
			return fmt.Errorf("expire codes: %w", err)
		}
		if _, err := enqueueWebhook(ctx, tx, bankgate.ConnectionRevokedWebhook(appID, connID, ids, now)); err != nil {
			return err
		}
		return s.audit(ctx, tx, now, bankgate.AuditConnectionRevoked, appID, connID, detail)
	})
}

// TouchConnections implements bankgate.Store.
func (s *Store) TouchConnections(ctx context.Context, connIDs []string, at time.Time) error {
	if len(connIDs) == 0 {
		return nil
	}
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE connections SET last_used_at = ? WHERE id = ? AND last_used_at < ?`)
		if err != nil {
			return fmt.Errorf("touch connections: %w", err)
		}
		defer st.Close()
		for _, id := range connIDs {
			if _, err := st.ExecContext(ctx, nanos(at), id, nanos(at)); err != nil {
				return fmt.Errorf("touch connections: %w", err)
			}
		}
		return nil
	})
}

// AppStats implements bankgate.Store.
func (s *Store) AppStats(ctx context.Context) (map[string]bankgate.AppStats, error) {
	out := map[string]bankgate.AppStats{}
	for _, q := range []struct {
		sql string
		set func(st *bankgate.AppStats, n int)
	}{
		{`SELECT app_id, count(*) FROM connections WHERE delinked_at = 0 AND revoked_at = 0 GROUP BY app_id`, func(st *bankgate.AppStats, n int) { st.Connections = n }},
		{`SELECT app_id, count(*) FROM tokens WHERE revoked_at = 0 GROUP BY app_id`, func(st *bankgate.AppStats, n int) { st.Tokens = n }},
	} {
		rows, err := s.r.QueryContext(ctx, q.sql)
		if err != nil {
			return nil, fmt.Errorf("app stats: %w", err)
		}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("app stats: %w", err)
			}
			st := out[id]
			q.set(&st, n)
			out[id] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("app stats: %w", err)
		}
	}
	return out, nil
}

const connInfoCols = `id, app_id, bank_id, user_id, client_user_id, created_at, delinked_at, revoked_at, last_used_at`

func scanConnInfo(row scanner) (*bankgate.ConnectionInfo, error) {
	var c bankgate.ConnectionInfo
	var created, delinked, revoked, used int64
	if err := row.Scan(&c.ID, &c.AppID, &c.BankID, &c.UserID, &c.ClientUserID, &created, &delinked, &revoked, &used); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("connection")
		}
		return nil, fmt.Errorf("read connection: %w", err)
	}
	c.CreatedAt, c.DelinkedAt, c.RevokedAt, c.LastUsedAt = fromNanos(created), fromNanos(delinked), fromNanos(revoked), fromNanos(used)
	return &c, nil
}

// ConnectionInfos implements bankgate.Store.
func (s *Store) ConnectionInfos(ctx context.Context, q bankgate.ConnectionQuery) ([]bankgate.ConnectionInfo, error) {
	where, args := `app_id = ?`, []any{q.AppID}
	if q.BankID != "" {
		where += ` AND bank_id = ?`
		args = append(args, q.BankID)
	}
	if q.ClientUserID != "" {
		where += ` AND client_user_id = ?`
		args = append(args, q.ClientUserID)
	}
	if !q.CreatedAfter.IsZero() {
		where += ` AND created_at > ?`
		args = append(args, nanos(q.CreatedAfter))
	}
	if !q.CreatedBefore.IsZero() {
		where += ` AND created_at < ?`
		args = append(args, nanos(q.CreatedBefore))
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
		where += ` AND (created_at < ? OR (created_at = ? AND id < ?))`
		args = append(args, nanos(q.AfterCreated), nanos(q.AfterCreated), q.AfterID)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+connInfoCols+` FROM connections WHERE `+where+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	defer rows.Close()
	var out []bankgate.ConnectionInfo
	for rows.Next() {
		c, err := scanConnInfo(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

// ConnectionInfo implements bankgate.Store.
func (s *Store) ConnectionInfo(ctx context.Context, id string) (*bankgate.ConnectionInfo, error) {
	return scanConnInfo(s.r.QueryRowContext(ctx, `SELECT `+connInfoCols+` FROM connections WHERE id = ?`, id))
}

// ConnectionTokens implements bankgate.Store.
func (s *Store) ConnectionTokens(ctx context.Context, connID string) ([]bankgate.Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, app_id, connection_id, user_id, created_at, revoked_at, revoke_reason, forwarded FROM tokens WHERE connection_id = ? ORDER BY created_at, id`, connID)
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	defer rows.Close()
	var out []bankgate.Token
	for rows.Next() {
		var t bankgate.Token
		var created, revoked, fwd int64
		if err := rows.Scan(&t.ID, &t.AppID, &t.ConnectionID, &t.UserID, &created, &revoked, &t.RevokeReason, &fwd); err != nil {
			return nil, fmt.Errorf("read tokens: %w", err)
		}
		t.CreatedAt, t.RevokedAt, t.Forwarded = fromNanos(created), fromNanos(revoked), fwd != 0
		out = append(out, t)
	}
	return out, rows.Err()
}

// SearchAudit implements bankgate.Store.
func (s *Store) SearchAudit(ctx context.Context, q bankgate.AuditQuery) ([]bankgate.AuditEvent, error) {
	where, args := `1 = 1`, []any{}
	if q.AppID != "" {
		where += ` AND app_id = ?`
		args = append(args, q.AppID)
	}
	if q.ConnectionID != "" {
		where += ` AND connection_id = ?`
		args = append(args, q.ConnectionID)
	}
	if q.Kind != "" {
		where += ` AND kind = ?`
		args = append(args, q.Kind)
	}
	if !q.Before.IsZero() {
		where += ` AND at < ?`
		args = append(args, nanos(q.Before))
	}
	if q.BeforeID != "" {
		where += ` AND (at < ? OR (at = ? AND id < ?))`
		args = append(args, nanos(q.BeforeAt), nanos(q.BeforeAt), q.BeforeID)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, kind, app_id, connection_id, detail FROM audit WHERE `+where+` ORDER BY at DESC, id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("search audit: %w", err)
	}
	defer rows.Close()
	var out []bankgate.AuditEvent
	for rows.Next() {
		var e bankgate.AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.AppID, &e.ConnectionID, &e.Detail); err != nil {
			return nil, fmt.Errorf("search audit: %w", err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// RecordAudit implements bankgate.Store.
func (s *Store) RecordAudit(ctx context.Context, e *bankgate.AuditEvent) error {
	if bankgate.ChangeMarker(e.Kind, e.AppID, e.ConnectionID, "x") != "" {
		return fmt.Errorf("record audit: kind %q changes cached state; its store method audits it", e.Kind)
	}
	e.ID = uuid.Must(uuid.NewV7()).String()
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := s.txStmt(ctx, tx, sqlAudit).ExecContext(ctx, e.ID, nanos(e.At), e.Kind, e.AppID, e.ConnectionID, e.Detail); err != nil {
			return fmt.Errorf("record audit: %w", err)
		}
		return nil
	})
}
