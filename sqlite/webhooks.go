package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bankgate/bankgate"
)

// newWebhookID is an event's webhook-id: "msg_" and a time-ordered UUID.
func newWebhookID() string {
	return "msg_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}

// enqueueWebhook inserts e into the outbox inside tx if its app has a
// webhook URL, and reports whether it did.
func enqueueWebhook(ctx context.Context, tx *sql.Tx, e *bankgate.WebhookEvent) (bool, error) {
	if e.ID == "" {
		e.ID = newWebhookID()
	}
	if e.DueAt.IsZero() {
		e.DueAt = e.CreatedAt
	}
	e.Since, e.NextAt, e.Status = e.DueAt, e.DueAt, bankgate.WebhookPending
	err := tx.QueryRowContext(ctx, `INSERT INTO webhook_events (id, app_id, connection_id, type, created_at, data, private, due_at, since, next_at, status)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending' FROM webhook_endpoints WHERE app_id = ? AND url != '' RETURNING seq`,
		e.ID, e.AppID, e.ConnectionID, e.Type, nanos(e.CreatedAt), e.Data, e.Private, nanos(e.DueAt), nanos(e.Since), nanos(e.NextAt), e.AppID).Scan(&e.Seq)
	if errors.Is(err, sql.ErrNoRows) {
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

// WebhookEndpoint implements bankgate.WebhookStore.
func (s *Store) WebhookEndpoint(ctx context.Context, appID string) (*bankgate.WebhookEndpoint, error) {
	return scanEndpoint(s.r.QueryRowContext(ctx, `SELECT app_id, url, keys, updated_at FROM webhook_endpoints WHERE app_id = ?`, appID))
}

func scanEndpoint(row scanner) (*bankgate.WebhookEndpoint, error) {
	var ep bankgate.WebhookEndpoint
	var updated int64
	if err := row.Scan(&ep.AppID, &ep.URL, &ep.Keys, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("webhook endpoint")
		}
		return nil, fmt.Errorf("read webhook endpoint: %w", err)
	}
	ep.UpdatedAt = fromNanos(updated)
	return &ep, nil
}

// UpdateWebhookEndpoint implements bankgate.WebhookStore.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, appID string, now time.Time, fn func(*bankgate.WebhookEndpoint) error) (*bankgate.WebhookEndpoint, error) {
	var out *bankgate.WebhookEndpoint
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM apps WHERE id = ?`, appID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("app")
			}
			return fmt.Errorf("read app: %w", err)
		}
		ep, err := scanEndpoint(tx.QueryRowContext(ctx, `SELECT app_id, url, keys, updated_at FROM webhook_endpoints WHERE app_id = ?`, appID))
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_endpoints (app_id, url, keys, updated_at) VALUES (?, ?, ?, ?)
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
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		ok, err = enqueueWebhook(ctx, tx, e)
		return err
	})
	return ok, err
}

const webhookCols = `seq, id, app_id, connection_id, type, created_at, data, private, due_at, since, next_at, status, attempts, delivered_at, last_error, last_status`

func scanWebhook(row scanner) (*bankgate.WebhookEvent, error) {
	var e bankgate.WebhookEvent
	var created, due, since, next, delivered int64
	if err := row.Scan(&e.Seq, &e.ID, &e.AppID, &e.ConnectionID, &e.Type, &created, &e.Data, &e.Private, &due, &since, &next,
		&e.Status, &e.Attempts, &delivered, &e.LastError, &e.LastStatus); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("webhook event")
		}
		return nil, fmt.Errorf("read webhook event: %w", err)
	}
	e.CreatedAt, e.DueAt, e.Since, e.NextAt, e.DeliveredAt = fromNanos(created), fromNanos(due), fromNanos(since), fromNanos(next), fromNanos(delivered)
	return &e, nil
}

// claimable selects the events a claim may take at ?1: pending, due, not
// leased, and first of their connection's pending events.
const claimable = `FROM webhook_events e WHERE e.status = 'pending' AND e.next_at <= ?1 AND e.lease_until <= ?1
	AND NOT EXISTS (SELECT 1 FROM webhook_events o WHERE o.status = 'pending' AND o.app_id = e.app_id AND o.connection_id = e.connection_id
		AND (o.due_at < e.due_at OR (o.due_at = e.due_at AND o.seq < e.seq)))`

// ClaimWebhooks implements bankgate.WebhookStore. A look on a reader
// first keeps an idle outbox from costing a write transaction per poll.
func (s *Store) ClaimWebhooks(ctx context.Context, c bankgate.WebhookClaim) ([]bankgate.WebhookEvent, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 `+claimable+` LIMIT 1`, nanos(c.Now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look for webhooks: %w", err)
	}
	var out []bankgate.WebhookEvent
	err = s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE webhook_events SET lease_until = ?2, lease_owner = ?3, attempts = attempts + 1, redeliver = 0
			WHERE seq IN (SELECT e.seq `+claimable+` ORDER BY e.next_at, e.seq LIMIT ?4) RETURNING `+webhookCols,
			nanos(c.Now), nanos(c.LeaseUntil), c.Owner, c.Limit)
		if err != nil {
			return fmt.Errorf("claim webhooks: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanWebhook(rows)
			if err != nil {
				return err
			}
			out = append(out, *e)
		}
		return rows.Err()
	})
	return out, err
}

// FinishWebhook implements bankgate.WebhookStore. An event redelivered
// while this attempt was in flight (redeliver = 1) stays pending, due when
// the redelivery said: the next claim is the redelivery.
func (s *Store) FinishWebhook(ctx context.Context, r *bankgate.WebhookResult) error {
	lost := false
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		a := &r.Attempt
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (event_id, n, at, duration_ns, status_code, error, instance) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			a.EventID, a.N, nanos(a.At), int64(a.Duration), a.StatusCode, a.Error, a.Instance); err != nil {
			return fmt.Errorf("record webhook attempt: %w", err)
		}
		var delivered int64
		if r.Status == bankgate.WebhookDelivered {
			delivered = nanos(a.At.Add(a.Duration))
		}
		res, err := tx.ExecContext(ctx, `UPDATE webhook_events SET status = CASE WHEN redeliver = 1 THEN 'pending' ELSE ?1 END,
			next_at = CASE WHEN redeliver = 1 THEN next_at ELSE ?2 END, lease_until = 0, lease_owner = '', redeliver = 0,
			delivered_at = ?3, last_error = ?4, last_status = ?5
			WHERE id = ?6 AND lease_owner = ?7 AND attempts = ?8 AND status = 'pending'`,
			r.Status, nanos(r.NextAt), delivered, a.Error, a.StatusCode, a.EventID, r.Owner, a.N)
		if err != nil {
			return fmt.Errorf("finish webhook: %w", err)
		}
		n, _ := res.RowsAffected()
		lost = n == 0
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+webhookCols+` FROM webhook_events WHERE app_id = ? AND seq < ? AND (? = '' OR status = ?) ORDER BY seq DESC LIMIT ?`,
		q.AppID, before, q.Status, q.Status, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read webhook events: %w", err)
	}
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

// WebhookEvent implements bankgate.WebhookStore.
func (s *Store) WebhookEvent(ctx context.Context, id string) (*bankgate.WebhookEvent, error) {
	return scanWebhook(s.r.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhook_events WHERE id = ?`, id))
}

// WebhookAttempts implements bankgate.WebhookStore.
func (s *Store) WebhookAttempts(ctx context.Context, eventID string, limit int) ([]bankgate.WebhookAttempt, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT event_id, n, at, duration_ns, status_code, error, instance FROM webhook_attempts WHERE event_id = ? ORDER BY n, at LIMIT ?`, eventID, limit)
	if err != nil {
		return nil, fmt.Errorf("read webhook attempts: %w", err)
	}
	defer rows.Close()
	var out []bankgate.WebhookAttempt
	for rows.Next() {
		var a bankgate.WebhookAttempt
		var at, d int64
		if err := rows.Scan(&a.EventID, &a.N, &at, &d, &a.StatusCode, &a.Error, &a.Instance); err != nil {
			return nil, err
		}
		a.At, a.Duration = fromNanos(at), time.Duration(d)
		out = append(out, a)
	}
	return out, rows.Err()
}

// RedeliverWebhook implements bankgate.WebhookStore. An event leased to
// an attempt in flight keeps its lease (no second attempt at once) and is
// marked redeliver, which that attempt's finish honours.
func (s *Store) RedeliverWebhook(ctx context.Context, id string, now time.Time) (*bankgate.WebhookEvent, error) {
	var out *bankgate.WebhookEvent
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		out, err = scanWebhook(tx.QueryRowContext(ctx, `UPDATE webhook_events SET status = 'pending', since = ?1, next_at = ?1,
			redeliver = CASE WHEN lease_owner != '' THEN 1 ELSE 0 END WHERE id = ?2 RETURNING `+webhookCols,
			nanos(now), id))
		return err
	})
	return out, err
}

// PruneWebhooks implements bankgate.WebhookStore.
func (s *Store) PruneWebhooks(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_attempts WHERE event_id IN (SELECT id FROM webhook_events WHERE created_at < ? AND status != 'pending')`, nanos(before)); err != nil {
			return fmt.Errorf("prune webhook attempts: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE created_at < ? AND status != 'pending'`, nanos(before))
		if err != nil {
			return fmt.Errorf("prune webhook events: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}

// scanIDs reads a column of strings and closes rows.
func scanIDs(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
