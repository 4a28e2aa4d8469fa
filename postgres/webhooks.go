package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bankgate/bankgate"
)

// newWebhookID is an event's webhook-id: "msg_" and a time-ordered UUID.
func newWebhookID() string {
	return "msg_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}

// enqueueWebhook inserts e into the outbox inside tx if its app has a
// webhook URL, and reports whether it did. It may run again when the
// transaction is retried: the ID it gave stays.
func enqueueWebhook(ctx context.Context, tx pgx.Tx, e *bankgate.WebhookEvent) (bool, error) {
	if e.ID == "" {
		e.ID = newWebhookID()
	}
	if e.DueAt.IsZero() {
		e.DueAt = e.CreatedAt
	}
	e.Since, e.NextAt, e.Status = e.DueAt, e.DueAt, bankgate.WebhookPending
	err := tx.QueryRow(ctx, `INSERT INTO webhook_events (id, app_id, connection_id, type, created_at, data, private, due_at, since, next_at, status)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending' FROM webhook_endpoints WHERE app_id = $2 AND url != '' RETURNING seq`,
		e.ID, e.AppID, e.ConnectionID, e.Type, nanos(e.CreatedAt), e.Data, e.Private, nanos(e.DueAt), nanos(e.Since), nanos(e.NextAt)).Scan(&e.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if isUnique(err) {
		return false, bankgate.Errorf(bankgate.Conflict, "webhook event already exists")
	}
	if err != nil {
		return false, fmt.Errorf("enqueue webhook: %w", err)
	}
	return true, nil
}

func scanEndpoint(row pgx.Row) (*bankgate.WebhookEndpoint, error) {
	var ep bankgate.WebhookEndpoint
	var updated int64
	if err := row.Scan(&ep.AppID, &ep.URL, &ep.Keys, &updated); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, notFound("webhook endpoint")
		}
		return nil, fmt.Errorf("read webhook endpoint: %w", err)
	}
	ep.UpdatedAt = fromNanos(updated)
	return &ep, nil
}

// WebhookEndpoint implements bankgate.WebhookStore.
func (s *Store) WebhookEndpoint(ctx context.Context, appID string) (*bankgate.WebhookEndpoint, error) {
	var out *bankgate.WebhookEndpoint
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		var err error
		out, err = scanEndpoint(c.QueryRow(ctx, `SELECT app_id, url, keys, updated_at FROM webhook_endpoints WHERE app_id = $1`, appID))
		return err
	})
	return out, err
}

// UpdateWebhookEndpoint implements bankgate.WebhookStore. The app row is
// locked, so that concurrent updates (two key rotations) apply one after
// the other.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, appID string, now time.Time, fn func(*bankgate.WebhookEndpoint) error) (*bankgate.WebhookEndpoint, error) {
	var out *bankgate.WebhookEndpoint
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := lockApp(ctx, tx, appID); err != nil {
			return err
		}
		ep, err := scanEndpoint(tx.QueryRow(ctx, `SELECT app_id, url, keys, updated_at FROM webhook_endpoints WHERE app_id = $1`, appID))
		if bankgate.IsCode(err, bankgate.NotFound) {
			ep, err = &bankgate.WebhookEndpoint{AppID: appID}, nil
		}
		if err != nil {
			return err
		}
		if err := fn(ep); err != nil {
			return err
		}
		ep.AppID, ep.UpdatedAt = appID, now
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_endpoints (app_id, url, keys, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (app_id) DO UPDATE SET url = excluded.url, keys = excluded.keys, updated_at = excluded.updated_at`,
			appID, ep.URL, ep.Keys, nanos(now)); err != nil {
			return fmt.Errorf("store webhook endpoint: %w", err)
		}
		out = ep
		return nil
	})
	return out, err
}

// EnqueueWebhook implements bankgate.WebhookStore.
func (s *Store) EnqueueWebhook(ctx context.Context, e *bankgate.WebhookEvent) (bool, error) {
	var ok bool
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		ok, err = enqueueWebhook(ctx, tx, e)
		return err
	})
	return ok, err
}

const webhookCols = `seq, id, app_id, connection_id, type, created_at, data, private, due_at, since, next_at, status, attempts, delivered_at, last_error, last_status`

func scanWebhook(row pgx.Row) (*bankgate.WebhookEvent, error) {
	var e bankgate.WebhookEvent
	var created, due, since, next, delivered int64
	var attempts, lastStatus int32
	if err := row.Scan(&e.Seq, &e.ID, &e.AppID, &e.ConnectionID, &e.Type, &created, &e.Data, &e.Private, &due, &since, &next,
		&e.Status, &attempts, &delivered, &e.LastError, &lastStatus); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, notFound("webhook event")
		}
		return nil, fmt.Errorf("read webhook event: %w", err)
	}
	e.Attempts, e.LastStatus = int(attempts), int(lastStatus)
	e.CreatedAt, e.DueAt, e.Since, e.NextAt, e.DeliveredAt = fromNanos(created), fromNanos(due), fromNanos(since), fromNanos(next), fromNanos(delivered)
	return &e, nil
}

func collectWebhooks(rows pgx.Rows) ([]bankgate.WebhookEvent, error) {
	defer rows.Close()
	var out []bankgate.WebhookEvent
	for rows.Next() {
		e, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// ClaimWebhooks implements bankgate.WebhookStore. The candidates are
// locked FOR UPDATE SKIP LOCKED, so that instances claiming at once take
// different events and none waits on another; the lease, committed with
// the claim, keeps them from being claimed again until it runs out. An
// event whose predecessor in its connection is pending (leased or not) is
// not a candidate, which keeps delivery in order per connection.
func (s *Store) ClaimWebhooks(ctx context.Context, c bankgate.WebhookClaim) ([]bankgate.WebhookEvent, error) {
	var out []bankgate.WebhookEvent
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `WITH claimed AS (
				SELECT e.seq FROM webhook_events e
				WHERE e.status = 'pending' AND e.next_at <= $1 AND e.lease_until <= $1
				AND NOT EXISTS (SELECT 1 FROM webhook_events o WHERE o.status = 'pending' AND o.app_id = e.app_id AND o.connection_id = e.connection_id
					AND (o.due_at, o.seq) < (e.due_at, e.seq))
				ORDER BY e.next_at, e.seq LIMIT $4
				FOR UPDATE OF e SKIP LOCKED)
			UPDATE webhook_events w SET lease_until = $2, lease_owner = $3, attempts = w.attempts + 1, redeliver = 0
			FROM claimed WHERE w.seq = claimed.seq AND w.status = 'pending' AND w.lease_until <= $1
			RETURNING `+prefixCols("w.", webhookCols),
			nanos(c.Now), nanos(c.LeaseUntil), c.Owner, c.Limit)
		if err != nil {
			return fmt.Errorf("claim webhooks: %w", err)
		}
		out, err = collectWebhooks(rows)
		return err
	})
	return out, err
}

// prefixCols qualifies each of a comma-separated column list with p.
func prefixCols(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// FinishWebhook implements bankgate.WebhookStore. An event redelivered
// while this attempt was in flight (redeliver = 1) stays pending, due when
// the redelivery said: the next claim is the redelivery. The row lock
// orders it with RedeliverWebhook: whichever commits second sees the
// other's row.
func (s *Store) FinishWebhook(ctx context.Context, r *bankgate.WebhookResult) error {
	lost := false
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		a := &r.Attempt
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (event_id, n, at, duration_ns, status_code, error, instance) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			a.EventID, a.N, nanos(a.At), int64(a.Duration), a.StatusCode, a.Error, a.Instance); err != nil {
			return fmt.Errorf("record webhook attempt: %w", err)
		}
		var delivered int64
		if r.Status == bankgate.WebhookDelivered {
			delivered = nanos(a.At.Add(a.Duration))
		}
		tag, err := tx.Exec(ctx, `UPDATE webhook_events SET status = CASE WHEN redeliver = 1 THEN 'pending' ELSE $1 END,
			next_at = CASE WHEN redeliver = 1 THEN next_at ELSE $2 END, lease_until = 0, lease_owner = '', redeliver = 0,
			delivered_at = $3, last_error = $4, last_status = $5
			WHERE id = $6 AND lease_owner = $7 AND attempts = $8 AND status = 'pending'`,
			r.Status, nanos(r.NextAt), delivered, a.Error, a.StatusCode, a.EventID, r.Owner, a.N)
		if err != nil {
			return fmt.Errorf("finish webhook: %w", err)
		}
		lost = tag.RowsAffected() == 0
		return nil
	})
	if err == nil && lost {
		return bankgate.Errorf(bankgate.Conflict, "webhook lease lost")
	}
	return err
}

// WebhookEvents implements bankgate.WebhookStore.
func (s *Store) WebhookEvents(ctx context.Context, q bankgate.WebhookQuery) ([]bankgate.WebhookEvent, error) {
	before := q.BeforeSeq
	if before <= 0 {
		before = 1<<63 - 1
	}
	var out []bankgate.WebhookEvent
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		rows, err := c.Query(ctx, `SELECT `+webhookCols+` FROM webhook_events WHERE app_id = $1 AND seq < $2 AND ($3 = '' OR status = $3) ORDER BY seq DESC LIMIT $4`,
			q.AppID, before, q.Status, q.Limit)
		if err != nil {
			return fmt.Errorf("read webhook events: %w", err)
		}
		out, err = collectWebhooks(rows)
		return err
	})
	return out, err
}

// WebhookEvent implements bankgate.WebhookStore.
func (s *Store) WebhookEvent(ctx context.Context, id string) (*bankgate.WebhookEvent, error) {
	var out *bankgate.WebhookEvent
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		var err error
		out, err = scanWebhook(c.QueryRow(ctx, `SELECT `+webhookCols+` FROM webhook_events WHERE id = $1`, id))
		return err
	})
	return out, err
}

// WebhookAttempts implements bankgate.WebhookStore.
func (s *Store) WebhookAttempts(ctx context.Context, eventID string, limit int) ([]bankgate.WebhookAttempt, error) {
	var out []bankgate.WebhookAttempt
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		out = nil
		rows, err := c.Query(ctx, `SELECT event_id, n, at, duration_ns, status_code, error, instance FROM webhook_attempts WHERE event_id = $1 ORDER BY n, at LIMIT $2`, eventID, limit)
		if err != nil {
			return fmt.Errorf("read webhook attempts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var a bankgate.WebhookAttempt
			var n, code int32
			var at, d int64
			if err := rows.Scan(&a.EventID, &n, &at, &d, &code, &a.Error, &a.Instance); err != nil {
				return err
			}
			a.N, a.StatusCode, a.At, a.Duration = int(n), int(code), fromNanos(at), time.Duration(d)
			out = append(out, a)
		}
		return rows.Err()
	})
	return out, err
}

// RedeliverWebhook implements bankgate.WebhookStore. An event leased to
// an attempt in flight keeps its lease (no second attempt at once) and is
// marked redeliver, which that attempt's finish honours.
func (s *Store) RedeliverWebhook(ctx context.Context, id string, now time.Time) (*bankgate.WebhookEvent, error) {
	var out *bankgate.WebhookEvent
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		out, err = scanWebhook(tx.QueryRow(ctx, `UPDATE webhook_events SET status = 'pending', since = $1, next_at = $1,
			redeliver = CASE WHEN lease_owner != '' THEN 1 ELSE 0 END WHERE id = $2 RETURNING `+webhookCols, nanos(now), id))
		return err
	})
	return out, err
}

// PruneWebhooks implements bankgate.WebhookStore.
func (s *Store) PruneWebhooks(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM webhook_attempts WHERE event_id IN (SELECT id FROM webhook_events WHERE created_at < $1 AND status != 'pending')`, nanos(before)); err != nil {
			return fmt.Errorf("prune webhook attempts: %w", err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM webhook_events WHERE created_at < $1 AND status != 'pending'`, nanos(before))
		if err != nil {
			return fmt.Errorf("prune webhook events: %w", err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return int(n), err
}
