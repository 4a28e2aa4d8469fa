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
	// AppID is the app the login is for. Connectors that keep state per
	// app (the sandbox keeps a world per app) key it by AppID; others may
	// ignore it.
	AppID    string
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
	// AppID is the app the connection belongs to (see LoginRequest.AppID).
	AppID        string
	BankID       string
	ConnectionID string
	Data         []byte
}

// Call is what every capability method receives: the session, the clock
// reading (for sandbox banks, the app's test clock), and, on the resume of a call that answered with a Challenge,
// the challenge's state and the user's answers.
type Call struct {
	Session Session
	Now     time.Time
	State   []byte
	Answers []bankgate.UserInput
	// OperationID is the ID the call's response will carry: the resumed
	// operation's, or a new one. Connectors may use it as a reference.
	OperationID string
	// IdempotencyKey, when set, identifies a payment request the client
	// may retry; the connector must apply it at most once.
	IdempotencyKey string
}

// Resuming reports whether the call resumes an earlier challenge.
func (c *Call) Resuming() bool { return c.State != nil }

// AccountsReader reads the user's identity and accounts.
type AccountsReader interface {
	Identity(ctx context.Context, call *Call) (*bankgate.Identity, *Challenge, error)
	Accounts(ctx context.Context, call *Call) ([]bankgate.Account, *Challenge, error)
}

// BalanceReader reads one account's current balance. It returns the
// account as of call.Now (its Balance, Currency and Number), or
// InvalidAccountID.
type BalanceReader interface {
	Balance(ctx context.Context, call *Call, accountID string) (*bankgate.Account, *Challenge, error)
}

// TransactionsReader reads an account's transactions between two dates,
// inclusive, oldest first. It returns InvalidDateRange when the range
// reaches beyond what the bank serves (see AccountsMetadata.TransactionRange)
// and InvalidAccountID for an unknown account.
type TransactionsReader interface {
	Transactions(ctx context.Context, call *Call, accountID string, from, to time.Time) ([]bankgate.Transaction, *Challenge, error)
}

// CardsReader reads the user's cards.
type CardsReader interface {
	Cards(ctx context.Context, call *Call) ([]bankgate.Card, *Challenge, error)
	CardBalance(ctx context.Context, call *Call, cardID string) (*bankgate.CardBalance, *Challenge, error)
	CardTransactions(ctx context.Context, call *Call, cardID string, from, to time.Time) ([]bankgate.Transaction, *Challenge, error)
}

// MetadataReader reports the bank's account and payment metadata. It never
// asks for user input.
type MetadataReader interface {
	Metadata(ctx context.Context, call *Call) (*bankgate.AccountsMetadata, error)
}

// Payer makes local and international payments. Calls that move money or
// add beneficiaries may answer with a Challenge; on resume the connector
// takes the request from the challenge's State (the caller may or may not
// repeat it).
type Payer interface {
	Beneficiaries(ctx context.Context, call *Call) ([]bankgate.Beneficiary, *Challenge, error)
	// CreateBeneficiary returns BeneficiaryExists for a duplicate IBAN or
	// account number.
	CreateBeneficiary(ctx context.Context, call *Call, b *bankgate.Beneficiary) (*Challenge, error)
	// Transfer pays an existing beneficiary (ReceiverID) or the receiver
	// named by Name/IBAN/AccountNumber. Errors: InvalidAccountID,
	// InsufficientBalance, ParameterError for amounts outside the bounds,
	// BeneficiaryCoolDown (with the period in the error's Data).
	Transfer(ctx context.Context, call *Call, req *bankgate.TransferRequest) (*bankgate.TransferResult, *Challenge, error)
	// TransferAutoflow creates req.Beneficiary if needed, then pays it.
	TransferAutoflow(ctx context.Context, call *Call, req *bankgate.TransferRequest) (*bankgate.TransferResult, *Challenge, error)
}

// WirePayer makes US wire payments.
type WirePayer interface {
	WireBeneficiaries(ctx context.Context, call *Call) ([]bankgate.WireBeneficiary, *Challenge, error)
	CreateWireBeneficiary(ctx context.Context, call *Call, b *bankgate.WireBeneficiary) (*Challenge, error)
	WireTransfer(ctx context.Context, call *Call, req *bankgate.TransferRequest) (*bankgate.TransferResult, *Challenge, error)
	WireTransferAutoflow(ctx context.Context, call *Call, req *bankgate.TransferRequest) (*bankgate.TransferResult, *Challenge, error)
}

// ACHPuller pulls money by ACH. A pull is identified by the operationID of
// the call that created it (call.OperationID).
type ACHPuller interface {
	CreateACHPull(ctx context.Context, call *Call, req *bankgate.ACHPullRequest) (*Challenge, error)
	ACHPull(ctx context.Context, call *Call, operationID string) (*bankgate.ACHPull, error)
}

// SandboxUsers is offered by sandbox connectors whose apps may make their own
// test users (Dapi's dashboard sandbox users). Users live in the app's
// sandbox world only.
type SandboxUsers interface {
	// CreateSandboxUser creates or replaces the user the fixture describes
	// (the connector's fixture format) at bankID in appID's world. It
	// returns ParameterError for a fixture it refuses, with a message that
	// says why, and InvalidBankID for a bank it does not serve.
	CreateSandboxUser(ctx context.Context, appID, bankID string, fixture []byte) (*bankgate.SandboxUser, error)
	// SandboxUsers lists appID's users, by bank and username.
	SandboxUsers(ctx context.Context, appID string) ([]bankgate.SandboxUser, error)
	// DeleteSandboxUser deletes one of appID's users; NotFound if it has no
	// such user.
	DeleteSandboxUser(ctx context.Context, appID, bankID, username string) error
}

// RedirectLogin is offered by connectors whose banks log users in by
// sending them to the bank (OAuth 2.0 / OpenID Connect, as open-banking
// standards do) instead of taking their credentials. bankgate keeps the
// continuation state sealed between the start and the bank's redirect
// back to bankgate's callback.
type RedirectLogin interface {
	// Redirects reports whether bankID logs in by redirect.
	Redirects(bankID string) bool
	// StartRedirect begins a login at the bank and returns the URL to send
	// the user to and the state to keep until the callback.
	StartRedirect(ctx context.Context, req RedirectRequest) (*RedirectStart, error)
	// FinishRedirect completes the login with the query the bank
	// redirected the user back with (code, state, iss, or error). It
	// checks what the standard asks (issuer, the state's binding) and
	// returns a done LoginResult or an *bankgate.Error: ParameterError
	// for a tampered response, InvalidCredentials when the user denied
	// the consent.
	FinishRedirect(ctx context.Context, req RedirectFinish) (*LoginResult, error)
}

// RedirectRequest starts a redirect login.
type RedirectRequest struct {
	AppID  string
	BankID string
	// RedirectURI is bankgate's callback URL the bank must send the user
	// back to.
	RedirectURI string
	// State is the OAuth state value bankgate chose for this login; the
	// bank hands it back on the callback.
	State string
	Now   time.Time
}

// RedirectStart is where to send the user, and what to keep.
type RedirectStart struct {
	URL   string
	State []byte
}

// RedirectFinish completes a redirect login.
type RedirectFinish struct {
	AppID  string
	BankID string
	// State is RedirectStart.State.
	State []byte
	// Query is the callback's query parameters.
	Query map[string][]string
	Now   time.Time
}

// Delinker is offered by connectors that hold a grant at the bank (an
// open-banking consent) which delinking the connection should revoke.
type Delinker interface {
	Delink(ctx context.Context, call *Call) error
}
