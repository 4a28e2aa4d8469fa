package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/bankgate/bankgate"
)

// CreateOperation implements bankgate.Store.
func (s *Store) CreateOperation(ctx context.Context, op *bankgate.Operation) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO operations (id, app_id, connection_id, bank_id, endpoint, status, error_type, state, created_at, updated_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
	var op bankgate.Operation
	var created, updated, expires int64
	err := s.r.QueryRowContext(ctx, `SELECT id, app_id, connection_id, bank_id, endpoint, status, error_type, state, created_at, updated_at, expires_at FROM operations WHERE id = ?`, id).
		Scan(&op.ID, &op.AppID, &op.ConnectionID, &op.BankID, &op.Endpoint, &op.Status, &op.ErrorType, &op.State, &created, &updated, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("operation")
	}
	if err != nil {
		return nil, fmt.Errorf("read operation: %w", err)
	}
	op.CreatedAt, op.UpdatedAt, op.ExpiresAt = fromNanos(created), fromNanos(updated), fromNanos(expires)
	return &op, nil
}

// UpdateOperation implements bankgate.Store.
func (s *Store) UpdateOperation(ctx context.Context, op *bankgate.Operation, fromStatus string) error {
	return s.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE operations SET status = ?, error_type = ?, state = ?, updated_at = ?, expires_at = ? WHERE id = ? AND status = ?`,
			op.Status, op.ErrorType, op.State, nanos(op.UpdatedAt), nanos(op.ExpiresAt), op.ID, fromStatus)
		if err != nil {
			return fmt.Errorf("update operation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return bankgate.Errorf(bankgate.Conflict, "operation changed")
		}
		return opWebhook(ctx, tx, op)
	})
}

// opWebhook enqueues the operation's webhook event, if it has one.
func opWebhook(ctx context.Context, tx *sql.Tx, op *bankgate.Operation) error {
	if op.Webhook == nil {
		return nil
	}
	_, err := enqueueWebhook(ctx, tx, op.Webhook)
	return err
}
