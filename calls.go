package bankgate

import (
	"net/url"
	"strings"
	"time"
)

// What the application layer (package service) takes and answers: the
// authenticated principal, the options and outcome of a connector call,
// Connect logins and token exchanges, sandbox clocks and users. They live
// here, with the domain, so that the layers above the service (http,
// cmd) use them without depending on the connector contract or the
// server's secrets.

// Principal is an authenticated per-user caller: an app acting for one of
// its connections.
type Principal struct {
	AppID string
	// AppKey is the app's public key (for logs and traces).
	AppKey       string
	ConnectionID string
	BankID       string
	UserID       string
	TokenID      string
	// Session is the connection's connector session, unsealed with the
	// userSecret; the service hands it to the connector.
	Session []byte
	// Now is the time on the app's sandbox test clock when the principal
	// was authenticated; connector calls run on it.
	Now time.Time // World names the app's sandbox world to the connectors: the app's
	// ID, with the count of an operator's resets once there was one
	// (App.SandboxEpoch); empty means AppID.
	World string
}

// CallOptions qualify a connector call.
type CallOptions struct {
	// Endpoint names the operation (the API route, e.g.
	// "/data/balance/get"); a resume must come to the same endpoint.
	Endpoint string
	// OperationID and Answers resume a call that asked for user input.
	OperationID string
	Answers     []UserInput
	// Record stores the operation and its outcome even when no user input
	// was needed, so that operation/status can report it (payments).
	Record bool
	// IdempotencyKey is passed to the connector.
	IdempotencyKey string
}

// Outcome is the result of a connector call: done with a value, or a
// prompt for user input (Status StatusUserInputRequired, Inputs set, the
// zero Value). OperationID is the operation's, kept through every step.
type Outcome[V any] struct {
	OperationID string
	Status      string
	Inputs      []UserInput
	Value       V
}

// Prompting reports whether the outcome asks for user input.
func (o *Outcome[V]) Prompting() bool { return o.Status == StatusUserInputRequired }

// Done is the value of a call that answers nothing but done.
type Done struct{}

// StoredResponse is the response recorded for an idempotent request.
type StoredResponse struct {
	Status int    `json:"status"`
	Body   []byte `json:"body"`
}

// LoginEndpoint is the operation endpoint name of Connect logins.
const LoginEndpoint = "/connect/login"

// LoginRequest is a Connect login, or (with OperationID) its resume.
type LoginRequest struct {
	AppKey       string
	BankID       string
	Username     string
	Password     string
	ClientUserID string
	OperationID  string
	Answers      []UserInput
	// ReturnQuery is the query of the Connect page that started a login
	// at a redirect bank, which the callback sends the user back to.
	ReturnQuery string
	// CallbackURL is where a redirect bank sends the user back to: the
	// server's /connect/callback as the request reached it (the service's
	// PublicURL, when set, wins).
	CallbackURL string
}

// Connected is what a successful Connect login hands to the app.
type Connected struct {
	AccessCode   string
	UserSecret   string
	ConnectionID string
	UserID       string
	TokenID      string
	BankID       string
}

// LoginResult is a finished login or an MFA prompt.
type LoginResult struct {
	OperationID string
	Connected   *Connected  // set when done
	Inputs      []UserInput // set when user input is required
	// RedirectURL is set when the user must authorise at the bank (status
	// redirect_required): where to send the user.
	RedirectURL string
}

// Exchanged is the result of an access code's exchange for a token.
type Exchanged struct {
	// AppKey is the public key of the app that exchanged (for logs and
	// traces).
	AppKey      string
	AccessToken string
	TokenID     string
	UserID      string
	// ClientUserID is the one given at login: the app checks it is the
	// user it opened Connect for (a login planted in another session has
	// another).
	ClientUserID string
}

// SandboxClock is an app's sandbox test clock.
type SandboxClock struct {
	Now    time.Time
	Offset time.Duration
}

// SandboxUser is a sandbox user an app made for itself at a sandbox bank.
type SandboxUser struct {
	BankID   string
	Username string
	// Accounts and MFA count the user's accounts and MFA inputs.
	Accounts int
	MFA      int
}

// NormalizeOrigin validates a web origin (scheme://host[:port]) and returns
// it in canonical form, or ParameterError.
func NormalizeOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", Errorf(ParameterError, "%q is not an origin like https://app.example.com", s)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// CallbackResult is a redirect login completed at the callback: the
// connection is made (or the login ended) and waits for the app's resume
// of OperationID.
type CallbackResult struct {
	OperationID string
	App         *App
	BankID      string
	// Return is where the Connect page the user left continues: its query
	// and a fragment saying what to resume ("" when the login did not
	// start on a Connect page).
	Return string
}
