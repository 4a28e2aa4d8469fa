// Package bank is the contract between bankgate and the banks it reaches: a
// small Connector interface every bank connector implements, plus optional
// capabilities (identity and accounts, balances, transactions, cards,
// payments, wire, ACH) discovered by type assertion.
package bank

import (
	"context"
	"time"

	"github.com/bankgate/bankgate"
)

// Connector serves one or more banks.
type Connector interface {
	// Banks lists the banks this connector serves.
	Banks() []bankgate.Bank
	// Login checks the user's bank credentials, or resumes a login that
	// asked for user input. It returns a done result with a session, a
	// result with a Challenge, or an *bankgate.Error (InvalidCredentials,
	// InvalidMFA, AccountLocked, ...).
	Login(ctx context.Context, req LoginRequest) (*LoginResult, error)
}

// LoginRequest is a login or the resume of one.
type LoginRequest struct {
	BankID   string
	Username string
	Password string
	// On resume: the State of the Challenge and the user's answers.
	State   []byte
	Answers []bankgate.UserInput
	Now     time.Time
}

// LoginResult is a finished login (Session set) or a prompt (Challenge set).
type LoginResult struct {
	// Session is whatever the connector needs to act for the user later.
	// bankgate seals it with a key derived from the userSecret; it must not
	// need the bank password.
	Session []byte
	// UserKey identifies the bank user stably at this bank (the username,
	// for instance). bankgate derives the userID from it.
	UserKey   string
	Challenge *Challenge
}

// Challenge asks the end user for input before the call can finish. State
// is the connector's continuation state, given back on resume; bankgate
// seals it at rest.
type Challenge struct {
	Inputs []bankgate.UserInput
	State  []byte
}

// Session is the unsealed connector session of a connection, handed to
// every capability call.
type Session struct {
	BankID       string
	ConnectionID string
	Data         []byte
}

// Call is what every capability method receives: the session, the clock
// reading, and, on the resume of a call that answered with a Challenge,
// the challenge's state and the user's answers.
type Call struct {
	Session Session
	Now     time.Time
	State   []byte
	Answers []bankgate.UserInput
}

// Resuming reports whether the call resumes an earlier challenge.
func (c *Call) Resuming() bool { return c.State != nil }

// AccountsReader reads the user's identity and accounts.
type AccountsReader interface {
	Identity(ctx context.Context, call *Call) (*bankgate.Identity, *Challenge, error)
	Accounts(ctx context.Context, call *Call) ([]bankgate.Account, *Challenge, error)
}
