package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bankgate/bankgate"
)

// CreateOperation implements bankgate.Store.
func (s *Store) CreateOperation(ctx context.Context, op *bankgate.Operation) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO operations (id, app_id, connection_id, bank_id, endpoint, status, error_type, state, created_at, updated_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			op.ID, op.AppID, op.ConnectionID, op.BankID, op.Endpoint, op.Status, op.ErrorType, op.State, nanos(op.CreatedAt), nanos(op.UpdatedAt), nanos(op.ExpiresAt))
		if isUnique(err) {
			return bankgate.Errorf(bankgate.Conflict, "operation already exists")
		}
		if err != nil {
			return fmt.Errorf("create operation: %w", err)
		}
		return opWebhook(ctx, tx, op)
	})
}

// Operation implements bankgate.Store.
func (s *Store) Operation(ctx context.Context, id string) (*bankgate.Operation, error) {
	var out *bankgate.Operation
	err := s.read(ctx, readTimeout, func(ctx context.Context, c *pgxpool.Conn) error {
		var op bankgate.Operation
		var created, updated, expires int64
		err := c.QueryRow(ctx, `SELECT id, app_id, connection_id, bank_id, endpoint, status, error_type, state, created_at, updated_at, expires_at FROM operations WHERE id = $1`, id).
			Scan(&op.ID, &op.AppID, &op.ConnectionID, &op.BankID, &op.Endpoint, &op.Status, &op.ErrorType, &op.State, &created, &updated, &expires)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("operation")
		}
		if err != nil {
			return fmt.Errorf("read operation: %w", err)
		}
		op.CreatedAt, op.UpdatedAt, op.ExpiresAt = fromNanos(created), fromNanos(updated), fromNanos(expires)
		out = &op
		return nil
	})
	return out, err
}

// UpdateOperation implements bankgate.Store.
func (s *Store) UpdateOperation(ctx context.Context, op *bankgate.Operation, fromStatus string) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE operations SET status = $1, error_type = $2, state = $3, updated_at = $4, expires_at = $5 WHERE id = $6 AND status = $7`,
			op.Status, op.ErrorType, op.State, nanos(op.UpdatedAt), nanos(op.ExpiresAt), op.ID, fromStatus)
		if err != nil {
			return fmt.Errorf("update operation: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return bankgate.Errorf(bankgate.Conflict, "operation changed")
		}
		return opWebhook(ctx, tx, op)
	})
}

// opWebhook enqueues the operation's webhook event, if it has one.
func opWebhook(ctx context.Context, tx pgx.Tx, op *bankgate.Operation) error {
	if op.Webhook == nil {
		return nil
	}
	_, err := enqueueWebhook(ctx, tx, op.Webhook)
	return err
}
