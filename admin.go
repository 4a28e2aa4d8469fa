package bankgate

import (
	"context"
	"time"
)

// Audit event kinds of the operator plane and of what operators search
// for in an incident.
const (
	// AuditAppDisabled and AuditAppEnabled record an operator turning an
	// app off and on again.
	AuditAppDisabled = "app_disabled"
	AuditAppEnabled  = "app_enabled"
	// AuditTokensRevoked records an app's kill switch: every token of the
	// app (issued before a time, optionally) revoked at once. Its detail
	// holds the count.
	AuditTokensRevoked = "tokens_revoked"
	// AuditConnectionRevoked records an operator revoking one connection.
	AuditConnectionRevoked = "connection_revoked"
	// AuditSandboxReset records an operator resetting an app's sandbox
	// world and test clock.
	AuditSandboxReset = "sandbox_reset"
	// AuditPayment records a payment call's outcome (transfer,
	// beneficiary, wire, ACH pull).
	AuditPayment = "payment"
	// AuditLoginFailed records a Connect login the bank refused; its
	// detail names the bank, the username and the error, never the
	// password.
	AuditLoginFailed = "login_failed"
	// AuditAdminAction records an operator action that has no event kind
	// of its own (an app created or updated through the admin API).
	AuditAdminAction = "admin_action"
)

// Connection states as the operator plane reports them.
const (
	ConnActive   = "active"
	ConnDelinked = "delinked"
	ConnRevoked  = "revoked"
)

// ConnectionInfo is a connection as an operator sees it: never its
// secrets, with its revocation and when it was last used.
type ConnectionInfo struct {
	ID           string
	AppID        string
	BankID       string
	UserID       string
	ClientUserID string
	CreatedAt    time.Time
	DelinkedAt   time.Time
	// RevokedAt is when an operator revoked the connection (one
	// revocation or the app's kill switch); zero if never.
	RevokedAt time.Time
	// LastUsedAt is when the connection's token last authenticated a
	// call, as recorded at most once a minute per instance; zero if
	// never.
	LastUsedAt time.Time
}

// State is ConnDelinked, ConnRevoked or ConnActive.
func (c *ConnectionInfo) State() string {
	switch {
	case !c.DelinkedAt.IsZero():
		return ConnDelinked
	case !c.RevokedAt.IsZero():
		return ConnRevoked
	}
	return ConnActive
}

// ConnectionQuery selects an app's connections, newest first.
type ConnectionQuery struct {
	AppID        string
	BankID       string // "" for any
	ClientUserID string // "" for any
	// CreatedAfter and CreatedBefore bound the creation time (exclusive);
	// zero for no bound.
	CreatedAfter, CreatedBefore time.Time
	// State is ConnActive, ConnDelinked, ConnRevoked or "" for any.
	State string
	// After is the cursor: the last connection of the previous page
	// (its CreatedAt and ID); zero for the first page.
	AfterCreated time.Time
	AfterID      string
	Limit        int
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	AppID        string // "" for every app
	ConnectionID string // "" for any
	Kind         string // "" for any
	// Before bounds the time (exclusive); zero for no bound.
	Before time.Time
	// BeforeAt and BeforeID are the cursor: the last event of the
	// previous page; zero for the first page.
	BeforeAt time.Time
	BeforeID string
	Limit    int
}

// AppStats counts an app's live connections and tokens.
type AppStats struct {
	Connections int // neither delinked nor revoked
	Tokens      int // not revoked
}

// OperatorStore is the part of the Store contract the operator plane
// (admin API, console, CLI) uses. Every method that changes something
// audits it in the same transaction, with the given detail (which names
// the operator and their client address), and writes the change marker
// of its event kind (see ChangeMarker), so that other instances drop what
// they cached within their cache bound.
type OperatorStore interface {
	// RotateAppSecretUntil replaces the app's secret digest like
	// RotateAppSecret, keeping the previous digest working until oldUntil
	// (as PrevSecretDigest and PrevSecretUntil); a zero oldUntil, or one
	// not after now, drops the previous secret at once. It audits
	// secret_rotated with detail. NotFound for an unknown app, Conflict
	// if the digest is another app's.
	RotateAppSecretUntil(ctx context.Context, appID string, digest []byte, now, oldUntil time.Time, detail string) error
	// AppByPrevSecret returns the app whose previous secret digest is
	// digest, while its overlap window is open at now; NotFound
	// otherwise.
	AppByPrevSecret(ctx context.Context, digest []byte, now time.Time) (*App, error)
	// SetAppDisabled disables (or enables) the app and audits
	// app_disabled (or app_enabled); setting what is already set changes
	// and audits nothing. It returns the app as stored; NotFound for an
	// unknown app.
	SetAppDisabled(ctx context.Context, appID string, disabled bool, now time.Time, detail string) (*App, error)
	// SetAppEnvironment changes the app's environment, only while the app
	// has no linked, unrevoked connection (Conflict otherwise); it audits
	// app_updated.
	SetAppEnvironment(ctx context.Context, appID, environment string, now time.Time, detail string) (*App, error)
	// ResetAppSandbox starts the app's sandbox world again: its test
	// clock goes back to zero offset and its SandboxEpoch grows by one,
	// which names a new, empty world to the sandbox connector. It audits
	// sandbox_reset; NotFound for an unknown app.
	ResetAppSandbox(ctx context.Context, appID string, now time.Time, detail string) (*App, error)
	// RevokeAppTokens is the kill switch: it revokes every unrevoked
	// token of the app created before before (every one when before is
	// zero) with reason RevokedByAdmin, expires the app's unused access
	// codes created before it, marks the connections concerned revoked,
	// and audits tokens_revoked once (an app-wide change marker). It
	// returns how many tokens it revoked.
	RevokeAppTokens(ctx context.Context, appID string, before, now time.Time, detail string) (int, error)
	// RevokeConnection marks the connection revoked, revokes its tokens
	// (reason RevokedByAdmin), expires its unused access code and audits
	// connection_revoked. A delinked or already revoked connection is left
	// as it is. NotFound for an unknown connection.
	RevokeConnection(ctx context.Context, connID string, now time.Time, detail string) error
	// TouchConnections records that the connections were used at at (for
	// each, if later than what is recorded), in one transaction; unknown
	// IDs are skipped. It audits nothing.
	TouchConnections(ctx context.Context, connIDs []string, at time.Time) error
	// AppStats counts every app's live connections and tokens, by app ID.
	AppStats(ctx context.Context) (map[string]AppStats, error)
	// ConnectionInfos returns the connections q selects, newest first (by
	// CreatedAt, then ID), at most q.Limit.
	ConnectionInfos(ctx context.Context, q ConnectionQuery) ([]ConnectionInfo, error)
	// ConnectionInfo returns one connection; NotFound if unknown.
	ConnectionInfo(ctx context.Context, id string) (*ConnectionInfo, error)
	// ConnectionTokens returns the connection's tokens (never their
	// digests), oldest first.
	ConnectionTokens(ctx context.Context, connID string) ([]Token, error)
	// SearchAudit returns the audit events q selects, newest first (by At,
	// then ID), at most q.Limit.
	SearchAudit(ctx context.Context, q AuditQuery) ([]AuditEvent, error)
	// RecordAudit appends an audit event of a kind that changes nothing a
	// cache holds (payment, login_failed, admin_action); the store fills
	// in its ID.
	RecordAudit(ctx context.Context, e *AuditEvent) error
}
