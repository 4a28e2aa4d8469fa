package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bankgate/bankgate"
)

// CreateApp implements bankgate.Store.
func (s *Store) CreateApp(ctx context.Context, app *bankgate.App) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO apps (id, name, app_key, secret_digest, created_at, secret_rotated_at, updated_at, allowed_origins, redirect_uris, bundle_ids, server_url, environment, forwarding)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			app.ID, app.Name, app.Key, app.SecretDigest, nanos(app.CreatedAt), nanos(app.SecretRotatedAt), nanos(app.CreatedAt),
			jsonList(app.AllowedOrigins), jsonList(app.RedirectURIs), jsonList(app.BundleIDs), app.ServerURL, app.Environment, boolInt(app.Forwarding))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "app already exists")
		}
		if err != nil {
			return fmt.Errorf("create app: %w", err)
		}
		return s.audit(ctx, tx, app.CreatedAt, bankgate.AuditAppCreated, app.ID, "", "name="+app.Name)
	})
}

const appCols = `id, name, app_key, secret_digest, created_at, secret_rotated_at, allowed_origins, redirect_uris, bundle_ids, server_url, clock_offset, environment, forwarding, prev_secret_digest, prev_secret_until, disabled_at, sandbox_epoch`

func scanApp(row scanner) (*bankgate.App, error) {
	var a bankgate.App
	var created, rotated, offset, forwarding, prevUntil, disabled int64
	var origins, uris, bundles string
	if err := row.Scan(&a.ID, &a.Name, &a.Key, &a.SecretDigest, &created, &rotated, &origins, &uris, &bundles, &a.ServerURL, &offset, &a.Environment, &forwarding,
		&a.PrevSecretDigest, &prevUntil, &disabled, &a.SandboxEpoch); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("app")
		}
		return nil, fmt.Errorf("read app: %w", err)
	}
	a.CreatedAt, a.SecretRotatedAt = fromNanos(created), fromNanos(rotated)
	a.AllowedOrigins, a.RedirectURIs, a.BundleIDs = parseList(origins), parseList(uris), parseList(bundles)
	a.ClockOffset, a.Forwarding = time.Duration(offset), forwarding != 0
	a.PrevSecretUntil, a.DisabledAt = fromNanos(prevUntil), fromNanos(disabled)
	return &a, nil
}

// App implements bankgate.Store.
func (s *Store) App(ctx context.Context, id string) (*bankgate.App, error) {
	return scanApp(s.r.QueryRowContext(ctx, `SELECT `+appCols+` FROM apps WHERE id = ?`, id))
}

// AppByKey implements bankgate.Store.
func (s *Store) AppByKey(ctx context.Context, key string) (*bankgate.App, error) {
	return scanApp(s.r.QueryRowContext(ctx, `SELECT `+appCols+` FROM apps WHERE app_key = ?`, key))
}

// AppBySecret implements bankgate.Store. Like Grant, it is on a hot path
// (every ExchangeToken), so its statement is prepared and not cancellable.
func (s *Store) AppBySecret(_ context.Context, digest []byte) (*bankgate.App, error) {
	return scanApp(s.stmts["r:"+sqlAppBySecret].QueryRow(digest))
}

// ListApps implements bankgate.Store.
func (s *Store) ListApps(ctx context.Context) ([]*bankgate.App, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+appCols+` FROM apps ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	defer rows.Close()
	var apps []*bankgate.App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		apps = append(apps, a)
	}
	return apps, rows.Err()
}

// RotateAppSecret implements bankgate.Store.
func (s *Store) RotateAppSecret(ctx context.Context, appID string, digest []byte, now time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE apps SET secret_digest = ?, secret_rotated_at = ?, updated_at = ?, prev_secret_digest = NULL, prev_secret_until = 0 WHERE id = ?`, digest, nanos(now), nanos(now), appID)
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "secret already in use")
		}
		if err != nil {
			return fmt.Errorf("rotate app secret: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("app")
		}
		return s.audit(ctx, tx, now, bankgate.AuditSecretRotated, appID, "", "")
	})
}

// UpdateApp implements bankgate.Store.
func (s *Store) UpdateApp(ctx context.Context, appID string, now time.Time, fn func(*bankgate.App) error) (*bankgate.App, error) {
	var out *bankgate.App
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		a, err := scanApp(tx.QueryRowContext(ctx, `SELECT `+appCols+` FROM apps WHERE id = ?`, appID))
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE apps SET name = ?, allowed_origins = ?, redirect_uris = ?, bundle_ids = ?, updated_at = ?, server_url = ?, forwarding = ? WHERE id = ?`,
			a.Name, jsonList(a.AllowedOrigins), jsonList(a.RedirectURIs), jsonList(a.BundleIDs), nanos(now), a.ServerURL, boolInt(a.Forwarding), appID); err != nil {
			return fmt.Errorf("update app: %w", err)
		}
		out = a
		return s.audit(ctx, tx, now, bankgate.AuditAppUpdated, appID, "", "")
	})
	return out, err
}

// AdvanceAppClock implements bankgate.Store.
func (s *Store) AdvanceAppClock(ctx context.Context, appID string, d time.Duration, now time.Time) (time.Duration, error) {
	if d <= 0 || d > bankgate.MaxClockAdvance {
		return 0, bankgate.Errorf(bankgate.ParameterError, "a clock advance must be positive and at most %v", bankgate.MaxClockAdvance)
	}
	var out time.Duration
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var cur int64
		if err := tx.QueryRowContext(ctx, `SELECT clock_offset FROM apps WHERE id = ?`, appID).Scan(&cur); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("app")
			}
			return fmt.Errorf("advance app clock: %w", err)
		}
		if cur < 0 || time.Duration(cur) > bankgate.MaxClockOffset-d {
			return bankgate.Errorf(bankgate.ParameterError, "the app's clock may move at most %v in all", bankgate.MaxClockOffset)
		}
		out = time.Duration(cur) + d
		if _, err := tx.ExecContext(ctx, `UPDATE apps SET clock_offset = ?, updated_at = ? WHERE id = ?`, int64(out), nanos(now), appID); err != nil {
			return fmt.Errorf("advance app clock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE access_codes SET expires_at = expires_at - ? WHERE expires_at > ? AND app_id = ? AND used_at = 0`,
			int64(d), nanos(now), appID); err != nil {
			return fmt.Errorf("advance app clock: %w", err)
		}
		return s.audit(ctx, tx, now, bankgate.AuditClockAdvanced, appID, "", "offset="+out.String())
	})
	return out, err
}
