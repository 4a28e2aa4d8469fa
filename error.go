package bankgate

import (
	"errors"
	"fmt"
)

// Code is one of bankgate's closed set of error codes. Each code is also the
// Dapi error "type" sent on the wire; the mapping from code to HTTP status
// lives in one table in the http package.
type Code string

// The closed set of error codes.
const (
	// Request errors.
	ParameterError   Code = "PARAMETER_ERROR"
	ParameterMissing Code = "PARAMETER_MISSING"
	BadRequest       Code = "BAD_REQUEST"
	EndpointNotFound Code = "ENDPOINT_NOT_FOUND"
	MethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	RateLimited      Code = "RATE_LIMIT_EXCEEDED"
	Unknown          Code = "UNKNOWN_ERROR"
	NotImplemented   Code = "NOT_IMPLEMENTED"
	// RequestInProgress: a request with the same Idempotency-Key runs.
	RequestInProgress Code = "REQUEST_IN_PROGRESS"

	// Authentication errors.
	InvalidToken          Code = "INVALID_TOKEN"
	UserDelinked          Code = "USER_DELINKED"
	InvalidAppCredentials Code = "INVALID_APP_CREDENTIALS"
	InvalidUserSecret     Code = "INVALID_USER_SECRET"
	InvalidAccessCode     Code = "INVALID_ACCESS_CODE"
	InvalidOperationID    Code = "INVALID_OPERATION_ID"

	// Bank (connector) errors.
	InvalidCredentials     Code = "INVALID_CREDENTIALS"
	InvalidMFA             Code = "INVALID_MFA"
	AccountLocked          Code = "ACCOUNT_LOCKED"
	InactiveAccount        Code = "INACTIVE_ACCOUNT"
	TemporarilyUnavailable Code = "TEMPORARILY_UNAVAILABLE"
	UnableToConnectToBank  Code = "UNABLE_TO_CONNECT_TO_BANK"
	UserAlreadyLoggedIn    Code = "USER_ALREADY_LOGGED_IN"
	SessionExpired         Code = "SESSION_EXPIRED"
	SessionInvalidated     Code = "SESSION_INVALIDATED"
	InvalidBankID          Code = "INVALID_BANK_ID"
	InvalidAccountID       Code = "INVALID_ACCOUNT_ID"
	InvalidCardID          Code = "INVALID_CARD_ID"
	InvalidDateRange       Code = "INVALID_DATE_RANGE"
	InsufficientBalance    Code = "INSUFFICIENT_BALANCE"
	InsufficientFunds      Code = "INSUFFICIENT_FUNDS"
	BeneficiaryNotActive   Code = "BENEFICIARY_NOT_ACTIVATED"
	BeneficiaryCoolDown    Code = "BENEFICIARY_COOL_DOWN_PERIOD"
	BeneficiaryExists      Code = "BENEFICIARY_ALREADY_EXISTS"
	BeneficiaryNameLimit   Code = "BENEFICIARY_NAME_CHARACTER_LIMIT"

	// Store errors that callers may branch on; they never reach the wire
	// under these names (the service layer translates them).
	NotFound Code = "NOT_FOUND"
	Conflict Code = "CONFLICT"
)

// Codes lists every code in the closed set, for tables and tests.
var Codes = []Code{
	ParameterError, ParameterMissing, BadRequest, EndpointNotFound, MethodNotAllowed,
	RateLimited, Unknown, NotImplemented, RequestInProgress,
	InvalidToken, UserDelinked, InvalidAppCredentials, InvalidUserSecret, InvalidAccessCode,
	InvalidOperationID,
	InvalidCredentials, InvalidMFA, AccountLocked, InactiveAccount, TemporarilyUnavailable,
	UnableToConnectToBank, UserAlreadyLoggedIn, SessionExpired, SessionInvalidated,
	InvalidBankID, InvalidAccountID, InvalidCardID, InvalidDateRange, InsufficientBalance,
	InsufficientFunds, BeneficiaryNotActive, BeneficiaryCoolDown, BeneficiaryExists,
	BeneficiaryNameLimit,
	NotFound, Conflict,
}

// Error is bankgate's one error type. Msg is safe to show to API clients;
// Err, when set, is the underlying cause and is only ever logged.
type Error struct {
	Code Code
	Msg  string
	Err  error
	// Data carries extra payload keys that belong on the failed envelope,
	// such as a cool-down period. It must contain only wire-safe values.
	Data map[string]any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, Unknown
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Unknown
}

// ErrorMessage returns the client-safe message of err: the Msg of its first
// *Error, or a generic message for any other error so that no internal
// detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return "Oops! Something happened while performing the request."
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code Code) bool { return ErrorCode(err) == code }

// ErrWriteRefused is matched (errors.Is) by a store's error when the
// database refused a write it cannot take now: its disk is full, or it is
// read-only. Nothing of the write is kept, and the same write succeeds once
// the condition passes; callers answer 503 TEMPORARILY_UNAVAILABLE, never
// 500.
var ErrWriteRefused = errors.New("the store refuses writes (disk full or read-only)")

// WriteRefused marks err, a store's write failure, as matching
// ErrWriteRefused.
func WriteRefused(err error) error {
	if err == nil || errors.Is(err, ErrWriteRefused) {
		return err
	}
	return &writeRefusedError{err}
}

type writeRefusedError struct{ err error }

func (e *writeRefusedError) Error() string        { return ErrWriteRefused.Error() + ": " + e.err.Error() }
func (e *writeRefusedError) Unwrap() error        { return e.err }
func (e *writeRefusedError) Is(target error) bool { return target == ErrWriteRefused }
