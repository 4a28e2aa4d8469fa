package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bankgate/bankgate"
)

// ServerKeys implements bankgate.Store.
func (s *Store) ServerKeys(ctx context.Context) ([]bankgate.ServerKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, check_value, created_at, retired_at FROM server_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read server keys: %w", err)
	}
	defer rows.Close()
	var out []bankgate.ServerKey
	for rows.Next() {
		var k bankgate.ServerKey
		var created, retired int64
		if err := rows.Scan(&k.ID, &k.Check, &created, &retired); err != nil {
			return nil, fmt.Errorf("read server keys: %w", err)
		}
		k.CreatedAt, k.RetiredAt = fromNanos(created), fromNanos(retired)
		out = append(out, k)
	}
	return out, rows.Err()
}

// AddServerKey implements bankgate.Store.
func (s *Store) AddServerKey(ctx context.Context, k *bankgate.ServerKey) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO server_keys (id, check_value, created_at, retired_at) VALUES (?, ?, ?, ?)`,
			k.ID, k.Check, nanos(k.CreatedAt), nanos(k.RetiredAt))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "server key %s already known", k.ID)
		}
		if err != nil {
			return fmt.Errorf("add server key: %w", err)
		}
		return nil
	})
}

// selects returns the SQL condition that column col holds a digest
// selected by sel, and its arguments.
func selects(col string, sel bankgate.KeySelector) (string, []any) {
	if len(sel.Prefix) == 0 {
		return "length(" + col + ") = ?", []any{sel.Size}
	}
	return "length(" + col + ") = ? AND substr(" + col + ", 1, ?) = ?", []any{sel.Size, len(sel.Prefix), sel.Prefix}
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func keyUsage(ctx context.Context, q querier, sel bankgate.KeySelector, now time.Time) (bankgate.KeyUsage, error) {
	var u bankgate.KeyUsage
	for _, c := range []struct {
		n     *int
		table string
		col   string
		where string
		args  []any
	}{
		{&u.Apps, "apps", "secret_digest", "1 = 1", nil},
		{&u.Connections, "connections", "user_secret_digest", "delinked_at = 0", nil},
		{&u.Tokens, "tokens", "digest", "revoked_at = 0", nil},
		{&u.Codes, "access_codes", "digest", "used_at = 0 AND expires_at > ?", []any{nanos(now)}},
	} {
		cond, args := selects(c.col, sel)
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM `+c.table+` WHERE `+c.where+` AND `+cond, append(c.args, args...)...).Scan(c.n); err != nil {
			return u, fmt.Errorf("count %s by key: %w", c.table, err)
		}
	}
	return u, nil
}

// KeyUsage implements bankgate.Store.
func (s *Store) KeyUsage(ctx context.Context, sel bankgate.KeySelector, now time.Time) (bankgate.KeyUsage, error) {
	return keyUsage(ctx, s.r, sel, now)
}

// RetireServerKey implements bankgate.Store.
func (s *Store) RetireServerKey(ctx context.Context, id string, sel bankgate.KeySelector, now time.Time, force bool) (bankgate.KeyUsage, error) {
	var u bankgate.KeyUsage
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var retired int64
		err := tx.QueryRowContext(ctx, `SELECT retired_at FROM server_keys WHERE id = ?`, id).Scan(&retired)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("server key")
		}
		if err != nil {
			return fmt.Errorf("read server key: %w", err)
		}
		if u, err = keyUsage(ctx, tx, sel, now); err != nil {
			return err
		}
		if u.Total() > 0 && !force {
			return bankgate.Errorf(bankgate.Conflict, "%d stored values still depend on server key %s", u.Total(), id)
		}
		if u.Total() > 0 {
			if err := s.revokeByKey(ctx, tx, id, sel, now); err != nil {
				return err
			}
		}
		if retired == 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE server_keys SET retired_at = ? WHERE id = ?`, nanos(now), id); err != nil {
				return fmt.Errorf("retire server key: %w", err)
			}
		}
		return nil
	})
	return u, err
}

// revokeByKey invalidates, with audit events, everything the key made.
func (s *Store) revokeByKey(ctx context.Context, tx *sql.Tx, id string, sel bankgate.KeySelector, now time.Time) error {
	why := "reason=" + bankgate.RevokedKeyRetired + " key=" + id
	cond, args := selects("user_secret_digest", sel)
	conns, err := pairs(ctx, tx, `UPDATE connections SET delinked_at = ? WHERE delinked_at = 0 AND `+cond+` RETURNING id, app_id`, append([]any{nanos(now)}, args...)...)
	if err != nil {
		return fmt.Errorf("delink by key: %w", err)
	}
	for _, c := range conns {
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?, revoke_reason = ? WHERE connection_id = ? AND revoked_at = 0`, nanos(now), bankgate.RevokedDelinked, c[0]); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE access_codes SET expires_at = ? WHERE connection_id = ? AND used_at = 0`, nanos(now), c[0]); err != nil {
			return fmt.Errorf("expire codes: %w", err)
		}
		if err := s.audit(ctx, tx, now, bankgate.AuditUserDelinked, c[1], c[0], why); err != nil {
			return err
		}
	}
	cond, args = selects("digest", sel)
	toks, err := triples(ctx, tx, `UPDATE tokens SET revoked_at = ?, revoke_reason = ? WHERE revoked_at = 0 AND `+cond+` RETURNING id, app_id, connection_id`,
		append([]any{nanos(now), bankgate.RevokedKeyRetired}, args...)...)
	if err != nil {
		return fmt.Errorf("revoke tokens by key: %w", err)
	}
	for _, t := range toks {
		if err := s.audit(ctx, tx, now, bankgate.AuditTokenRevoked, t[1], t[2], "tokenID="+t[0]+" "+why); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE access_codes SET expires_at = ? WHERE used_at = 0 AND expires_at > ? AND `+cond, append([]any{nanos(now), nanos(now)}, args...)...); err != nil {
		return fmt.Errorf("expire codes by key: %w", err)
	}
	cond, args = selects("secret_digest", sel)
	apps, err := pairs(ctx, tx, `SELECT id, id FROM apps WHERE `+cond, args...)
	if err != nil {
		return fmt.Errorf("read apps by key: %w", err)
	}
	for _, a := range apps {
		if _, err := tx.ExecContext(ctx, `UPDATE apps SET secret_digest = ?, updated_at = ? WHERE id = ?`, revokedSecretDigest(), nanos(now), a[0]); err != nil {
			return fmt.Errorf("revoke app secret: %w", err)
		}
		if err := s.audit(ctx, tx, now, bankgate.AuditKeyRetired, a[0], "", "appSecret revoked: "+why+"; give the app a new one with apps rotate-secret"); err != nil {
			return err
		}
	}
	return nil
}

// revokedSecretDigest returns a unique value that no secret's digest under
// any server key equals (its prefix is no key ID).
func revokedSecretDigest() []byte {
	b := make([]byte, 0, 42)
	b = append(b, "x-revoked"...)
	b = append(b, make([]byte, 32)...)
	rand.Read(b[len(b)-32:])
	return b
}

func pairs(ctx context.Context, tx *sql.Tx, query string, args ...any) ([][2]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func triples(ctx context.Context, tx *sql.Tx, query string, args ...any) ([][3]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][3]string
	for rows.Next() {
		var p [3]string
		if err := rows.Scan(&p[0], &p[1], &p[2]); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// swap runs one compare-and-swap update and reports whether it changed a
// row.
func (s *Store) swap(ctx context.Context, what, query string, args ...any) (bool, error) {
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "%s digest already in use", what)
		}
		if err != nil {
			return fmt.Errorf("re-digest %s: %w", what, err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n > 0, err
}

// RedigestApp implements bankgate.Store.
func (s *Store) RedigestApp(ctx context.Context, appID string, old, new []byte) (bool, error) {
	return s.swap(ctx, "app secret", `UPDATE apps SET secret_digest = ? WHERE id = ? AND secret_digest = ?`, new, appID, old)
}

// RedigestToken implements bankgate.Store.
func (s *Store) RedigestToken(ctx context.Context, old, new []byte) (bool, error) {
	return s.swap(ctx, "token", `UPDATE tokens SET digest = ? WHERE digest = ?`, new, old)
}

// RedigestConnection implements bankgate.Store.
func (s *Store) RedigestConnection(ctx context.Context, connID string, oldDigest, newDigest, sealed []byte) (bool, error) {
	return s.swap(ctx, "userSecret", `UPDATE connections SET user_secret_digest = ?, sealed = ? WHERE id = ? AND user_secret_digest = ?`, newDigest, sealed, connID, oldDigest)
}
