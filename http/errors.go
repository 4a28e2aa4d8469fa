package http

import (
	"net/http"

	"github.com/bankgate/bankgate"
)

// statusOf is the one table from error code to HTTP status. The Dapi
// "type" on the wire is the code itself. Codes absent here are 400.
var statusOf = map[bankgate.Code]int{
	bankgate.ParameterError:    http.StatusBadRequest,
	bankgate.ParameterMissing:  http.StatusUnprocessableEntity,
	bankgate.BadRequest:        http.StatusBadRequest,
	bankgate.EndpointNotFound:  http.StatusNotFound,
	bankgate.MethodNotAllowed:  http.StatusMethodNotAllowed,
	bankgate.RateLimited:       http.StatusTooManyRequests,
	bankgate.Unknown:           http.StatusInternalServerError,
	bankgate.NotImplemented:    http.StatusNotImplemented,
	bankgate.RequestInProgress: http.StatusConflict,

	bankgate.InvalidToken:          http.StatusUnauthorized,
	bankgate.UserDelinked:          http.StatusUnauthorized,
	bankgate.InvalidAppCredentials: http.StatusUnauthorized,
	bankgate.InvalidUserSecret:     http.StatusUnauthorized,
	bankgate.InvalidAccessCode:     http.StatusUnauthorized,
	bankgate.InvalidOperationID:    http.StatusBadRequest,

	bankgate.InvalidCredentials:     http.StatusUnauthorized,
	bankgate.InvalidMFA:             http.StatusUnauthorized,
	bankgate.InactiveAccount:        http.StatusUnauthorized,
	bankgate.AccountLocked:          http.StatusForbidden,
	bankgate.TemporarilyUnavailable: http.StatusServiceUnavailable,
	bankgate.UnableToConnectToBank:  http.StatusBadGateway,
	bankgate.UserAlreadyLoggedIn:    http.StatusConflict,
	bankgate.SessionExpired:         http.StatusUnauthorized,
	bankgate.SessionInvalidated:     http.StatusUnauthorized,
	bankgate.InvalidBankID:          http.StatusBadRequest,
	bankgate.InvalidAccountID:       http.StatusNotFound,
	bankgate.InvalidCardID:          http.StatusNotFound,
	bankgate.InvalidDateRange:       http.StatusBadRequest,
	bankgate.InsufficientBalance:    http.StatusBadRequest,
	bankgate.InsufficientFunds:      http.StatusBadRequest,
	bankgate.BeneficiaryNotActive:   http.StatusBadRequest,
	bankgate.BeneficiaryCoolDown:    http.StatusBadRequest,
	bankgate.BeneficiaryExists:      http.StatusBadRequest,
	bankgate.BeneficiaryNameLimit:   http.StatusBadRequest,

	// Store codes should never reach a client; if one does, it is ours.
	bankgate.NotFound: http.StatusInternalServerError,
	bankgate.Conflict: http.StatusInternalServerError,
}

// wireError returns the HTTP status, Dapi type and message for err. Errors
// that are not a client's fault become UNKNOWN_ERROR with a generic message,
// as do store-internal codes.
func wireError(err error) (status int, typ bankgate.Code, msg string) {
	code := bankgate.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusBadRequest
	}
	if status == http.StatusInternalServerError {
		return status, bankgate.Unknown, bankgate.ErrorMessage(nil)
	}
	return status, code, bankgate.ErrorMessage(err)
}
