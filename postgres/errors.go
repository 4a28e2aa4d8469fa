package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bankgate/bankgate"
)

// ErrUnavailable is matched (errors.Is) by every error the store returns
// because the database could not be reached or did not answer in time.
var ErrUnavailable = errors.New("store unavailable")

type unavailableError struct{ err error }

func (e *unavailableError) Error() string        { return "store unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

func unavailable(err error) error {
	var u *unavailableError
	if err == nil || errors.As(err, &u) {
		return err
	}
	return &unavailableError{err}
}

// IsUnavailable reports whether err means the database could not be
// reached: a refused or failed connection, a timeout waiting for a pooled
// connection, or the store's own deadline passing while the database did
// not answer. Callers use it to answer 503 rather than 500. A caller's own
// cancellation does not count.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || errors.Is(err, syscall.ECONNREFUSED)
}

// isConnFailure reports whether err, returned after a connection was
// acquired, shows the database or the connection to it failing rather than
// the statement.
func isConnFailure(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08 is connection exceptions; 57P01-57P03 are the server
		// shutting down or starting; 53300 is too many connections.
		switch pe.Code {
		case "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// isWriteRefused reports whether err is PostgreSQL refusing a write for
// want of disk space (53100 disk_full) or because the database is
// read-only (25006 read_only_sql_transaction: a standby, or
// default_transaction_read_only).
func isWriteRefused(err error) bool {
	switch sqlState(err) {
	case "53100", "25006":
		return true
	}
	return false
}

func isUnique(err error) bool { return sqlState(err) == "23505" }

// retryable reports whether running the whole transaction again may
// succeed: a serialization failure or deadlock, or a failure before the
// statement reached the server (such as a pooled connection the server had
// closed).
func retryable(err error) bool {
	switch sqlState(err) {
	case "40001", "40P01":
		return true
	}
	var u *unavailableError
	if errors.As(err, &u) {
		return false // acquiring already waited; fail fast
	}
	return pgconn.SafeToRetry(err) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// classify marks connection failures as unavailable and leaves all other
// errors, bankgate's own included, as they are.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if isWriteRefused(err) {
		return bankgate.WriteRefused(err)
	}
	var be *bankgate.Error
	if errors.As(err, &be) {
		return err
	}
	if isConnFailure(err) {
		return unavailable(err)
	}
	return err
}

func notFound(what string) error { return bankgate.Errorf(bankgate.NotFound, "%s not found", what) }

func invalidCode() error {
	return bankgate.Errorf(bankgate.InvalidAccessCode, "The access code is invalid, expired or already used.")
}
