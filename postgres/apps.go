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

// CreateApp implements bankgate.Store.
func (s *Store) CreateApp(ctx context.Context, app *bankgate.App) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO apps (id, name, app_key, secret_digest, created_at, secret_rotated_at, updated_at, allowed_origins, redirect_uris, bundle_ids, server_url, environment, forwarding)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			app.ID, app.Name, app.Key, app.SecretDigest, nanos(app.CreatedAt), nanos(app.SecretRotatedAt), nanos(app.CreatedAt),
			jsonList(app.AllowedOrigins), jsonList(app.RedirectURIs), jsonList(app.BundleIDs), app.ServerURL, app.Environment, boolInt(app.Forwarding))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "app already exists")
		}
		if err != nil {
			return fmt.Errorf("create app: %w", err)
		}
		return audit(ctx, tx, app.CreatedAt, bankgate.AuditAppCreated, app.ID, "", "name="+app.Name)
	})
}

const appCols = `id, name, app_key, secret_digest, created_at, secret_rotated_at, allowed_origins, redirect_uris, bundle_ids, server_url, clock_offset, environment, forwarding, prev_secret_digest, prev_secret_until, disabled_at, sandbox_epoch`

func scanApp(row pgx.Row) (*bankgate.App, error) {
	var a bankgate.App
	var created, rotated, offset, forwarding, prevUntil, disabled int64
	var origins, uris, bundles string
	if err := row.Scan(&a.ID, &a.Name, &a.Key, &a.SecretDigest, &created, &rotated, &origins, &uris, &bundles, &a.ServerURL, &offset, &a.Environment, &forwarding,
		&a.PrevSecretDigest, &prevUntil, &disabled, &a.SandboxEpoch); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
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

func (s *Store) appWhere(ctx context.Context, where string, arg any) (*bankgate.App, error) {
	var a *bankgate.App
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		var err error
		a, err = scanApp(c.QueryRow(ctx, `SELECT `+appCols+` FROM apps WHERE `+where+` = $1`, arg))
		return err
	})
	return a, err
}

// App implements bankgate.Store.
func (s *Store) App(ctx context.Context, id string) (*bankgate.App, error) {
	return s.appWhere(ctx, "id", id)
}

// AppByKey implements bankgate.Store.
func (s *Store) AppByKey(ctx context.Context, key string) (*bankgate.App, error) {
	return s.appWhere(ctx, "app_key", key)
}

// AppBySecret implements bankgate.Store.
func (s *Store) AppBySecret(ctx context.Context, digest []byte) (*bankgate.App, error) {
	return s.appWhere(ctx, "secret_digest", digest)
}

// ListApps implements bankgate.Store.
func (s *Store) ListApps(ctx context.Context) ([]*bankgate.App, error) {
	var apps []*bankgate.App
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		apps = nil
		rows, err := c.Query(ctx, `SELECT `+appCols+` FROM apps ORDER BY created_at, id`)
		if err != nil {
			return fmt.Errorf("list apps: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanApp(rows)
			if err != nil {
				return err
			}
			apps = append(apps, a)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list apps: %w", err)
		}
		return nil
	})
	return apps, err
}

// RotateAppSecret implements bankgate.Store.
func (s *Store) RotateAppSecret(ctx context.Context, appID string, digest []byte, now time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE apps SET secret_digest = $1, secret_rotated_at = $2, updated_at = $2, prev_secret_digest = NULL, prev_secret_until = 0 WHERE id = $3`, digest, nanos(now), appID)
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "secret already in use")
		}
		if err != nil {
			return fmt.Errorf("rotate app secret: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return notFound("app")
		}
		return audit(ctx, tx, now, bankgate.AuditSecretRotated, appID, "", "")
	})
}

// UpdateApp implements bankgate.Store. The app row is locked (SELECT ...
// FOR UPDATE) while fn runs, so concurrent updates do not lose each
// other's changes.
func (s *Store) UpdateApp(ctx context.Context, appID string, now time.Time, fn func(*bankgate.App) error) (*bankgate.App, error) {
	var out *bankgate.App
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		a, err := scanApp(tx.QueryRow(ctx, `SELECT `+appCols+` FROM apps WHERE id = $1 FOR UPDATE`, appID))
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE apps SET name = $1, allowed_origins = $2, redirect_uris = $3, bundle_ids = $4, updated_at = $5, server_url = $6, forwarding = $7 WHERE id = $8`,
			a.Name, jsonList(a.AllowedOrigins), jsonList(a.RedirectURIs), jsonList(a.BundleIDs), nanos(now), a.ServerURL, boolInt(a.Forwarding), appID); err != nil {
			return fmt.Errorf("update app: %w", err)
		}
		out = a
		return audit(ctx, tx, now, bankgate.AuditAppUpdated, appID, "", "")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AdvanceAppClock implements bankgate.Store. The app row is locked
// (SELECT ... FOR UPDATE) so that concurrent advances add up and the
// bound holds.
func (s *Store) AdvanceAppClock(ctx context.Context, appID string, d time.Duration, now time.Time) (time.Duration, error) {
	if d <= 0 || d > bankgate.MaxClockAdvance {
		return 0, bankgate.Errorf(bankgate.ParameterError, "a clock advance must be positive and at most %v", bankgate.MaxClockAdvance)
	}
	var out time.Duration
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var cur int64
		if err := tx.QueryRow(ctx, `SELECT clock_offset FROM apps WHERE id = $1 FOR UPDATE`, appID).Scan(&cur); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("app")
			}
			return fmt.Errorf("advance app clock: %w", err)
		}
		if cur < 0 || time.Duration(cur) > bankgate.MaxClockOffset-d {
			return bankgate.Errorf(bankgate.ParameterError, "the app's clock may move at most %v in all", bankgate.MaxClockOffset)
		}
		out = time.Duration(cur) + d
		if _, err := tx.Exec(ctx, `UPDATE apps SET clock_offset = $1, updated_at = $2 WHERE id = $3`, int64(out), nanos(now), appID); err != nil {
			return fmt.Errorf("advance app clock: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE access_codes SET expires_at = expires_at - $1 WHERE expires_at > $2 AND app_id = $3 AND used_at = 0`,
			int64(d), nanos(now), appID); err != nil {
			return fmt.Errorf("advance app clock: %w", err)
		}
		return audit(ctx, tx, now, bankgate.AuditClockAdvanced, appID, "", "offset="+out.String())
	})
	return out, err
}
