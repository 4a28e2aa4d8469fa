// Package bankgate holds the domain of the bankgate open-banking server: apps,
// connections, access codes, tokens, pending operations, the bank data they
// give access to, and the contracts (Store) that adapters implement. It does
// no I/O; adapters named after their technology (sqlite, postgres, http,
// sandbox) do, and cmd/bankgate wires them together.
package bankgate

import (
	"context"
	"time"
)

// App is a registered application. Key is public; the secret is never stored,
// only its keyed digest.
type App struct {
	ID              string
	Name            string
	Key             string
	SecretDigest    []byte
	CreatedAt       time.Time
	SecretRotatedAt time.Time
	// AllowedOrigins, RedirectURIs and BundleIDs are what the app registered
	// for the Connect page and the client SDKs.
	AllowedOrigins []string
	RedirectURIs   []string
	BundleIDs      []string
	// ServerURL is the app backend's URL that mobile SDKs send forwarded
	// calls to (Dapi's "App Server URL").
	ServerURL string
	// Forwarding allows SDK-forwarded calls (POST / with an action and a
	// tokenID) for the app's tokens that were exchanged through
	// forwarding. New apps allow it, as Dapi's mobile SDKs need it.
	Forwarding bool
	// Environment is EnvSandbox or EnvProduction, fixed when the app is
	// created: a sandbox app reaches only sandbox banks, a production app
	// only real ones.
	Environment string
	// ClockOffset is how far the app has moved its sandbox test clock
	// forward (POST /v2/sandbox/clock): the app's sandbox world runs at
	// the server's sandbox time plus this offset. It only grows, and
	// never passes MaxClockOffset, except that an operator's sandbox
	// reset (Store.ResetAppSandbox) sets it back to zero.
	ClockOffset time.Duration
	// PrevSecretDigest is the digest of the secret the app had before its
	// last rotation, which keeps working until PrevSecretUntil (a
	// rotation with an overlap window); nil when there is none.
	PrevSecretDigest []byte
	PrevSecretUntil  time.Time
	// DisabledAt is when an operator disabled the app, zero while it is
	// enabled: a disabled app's calls and logins are all refused.
	DisabledAt time.Time
	// SandboxEpoch counts the operator's resets of the app's sandbox
	// world: each reset starts a new, empty world (see
	// Store.ResetAppSandbox).
	SandboxEpoch int64
}

// Disabled reports whether an operator disabled the app.
func (a *App) Disabled() bool { return !a.DisabledAt.IsZero() }

// App environments.
const (
	EnvSandbox    = "sandbox"
	EnvProduction = "production"
)

// Bounds of an app's sandbox test clock: one advance moves it at most
// MaxClockAdvance, and all advances together at most MaxClockOffset. Both
// are far from time.Duration's limit (about 292 years), so no sum of
// them overflows.
const (
	MaxClockAdvance = 366 * 24 * time.Hour
	MaxClockOffset  = 3653 * 24 * time.Hour // ten years, leap days included
)

// Connection is one successful Connect login of an end user at a bank, for
// one app. The connector's session is kept only sealed with a key derived
// from the userSecret, which the server never stores in clear.
type Connection struct {
	ID               string
	AppID            string
	BankID           string
	UserID           string
	ClientUserID     string
	UserSecretDigest []byte
	// Sealed is the connector session, sealed (AES-GCM) with a key derived
	// from the userSecret.
	Sealed     []byte
	CreatedAt  time.Time
	DelinkedAt time.Time // zero while linked
}

// Delinked reports whether the connection was delinked.
func (c *Connection) Delinked() bool { return !c.DelinkedAt.IsZero() }

// AccessCode is the one-time code Connect hands to an app after a login. It
// is good for one ExchangeToken, within its lifetime, by its app, for its
// connection.
type AccessCode struct {
	Digest       []byte
	AppID        string
	ConnectionID string
	TokenID      string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UsedAt       time.Time // zero until exchanged
}

// Revocation reasons recorded on a token.
const (
	RevokedDelinked   = "delinked"
	RevokedCodeReuse  = "code_reused"
	RevokedKeyRetired = "key_retired"
	// RevokedByAdmin marks tokens an operator revoked (one connection, or
	// an app's kill switch).
	RevokedByAdmin = "admin_revoked"
)

// Token is an access token grant. Only its keyed digest is stored.
type Token struct {
	ID           string // the tokenID the Connect layer hands out
	Digest       []byte
	AppID        string
	ConnectionID string
	UserID       string
	CodeDigest   []byte // the access code it was issued for
	CreatedAt    time.Time
	RevokedAt    time.Time // zero while valid
	RevokeReason string
	// Forwarded marks a token exchanged through SDK forwarding: it stays
	// server-side, and only it may be named by its tokenID.
	Forwarded bool
}

// Revoked reports whether the token was revoked.
func (t *Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Grant is a token together with the connection it gives access to: what a
// bearer check needs, read in one go.
type Grant struct {
	Token      Token
	Connection Connection
}

// Operation statuses, as on the wire.
const (
	StatusDone              = "done"
	StatusFailed            = "failed"
	StatusUserInputRequired = "user_input_required"
	StatusInitialized       = "initialized"
	// StatusRedirectRequired: a Connect login at a bank that logs users
	// in by redirect waits for the user to come back from the bank.
	StatusRedirectRequired = "redirect_required"
	// StatusRedirectReturned: the user came back and the connection is
	// made; the login's resume hands it to the app once.
	StatusRedirectReturned = "redirect_returned"
)

// Operation is a pending or finished multi-step call (an MFA prompt and its
// resume), identified by operationID.
type Operation struct {
	ID           string
	AppID        string
	ConnectionID string // empty for Connect logins
	BankID       string
	Endpoint     string // normalised v2 path, e.g. "/connect/login"
	Status       string
	ErrorType    string
	// State is the connector's continuation state, sealed by the server.
	State     []byte
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time
	// Webhook, when set on CreateOperation or UpdateOperation, is enqueued
	// (see WebhookStore.EnqueueWebhook) in the same transaction as the
	// operation's write. It is never read back.
	Webhook *WebhookEvent
}

// Audit event kinds.
const (
	AuditAppCreated        = "app_created"
	AuditSecretRotated     = "secret_rotated"
	AuditAppUpdated        = "app_updated"
	AuditConnectionCreated = "connection_created"
	AuditCodeIssued        = "code_issued"
	AuditCodeExchanged     = "code_exchanged"
	AuditCodeReused        = "code_reused"
	AuditTokenRevoked      = "token_revoked"
	AuditUserDelinked      = "user_delinked"
	AuditClockAdvanced     = "clock_advanced"
	// AuditKeyRetired records that an app's secret stopped working
	// because the server key its digest was made with was retired by
	// force.
	AuditKeyRetired = "key_retired"
)

// ChangeMarker returns the change-feed stream that an audit event of the
// given kind announces, or "" for kinds that change nothing a cache holds
// (creations and exchanges). Stores append it (seq 1, empty body) in the
// same transaction as the audit event, so that every instance learns
// through Store.Changes that a connection's grants or an app's record
// changed: "changed/conn/<connectionID>/<auditID>" when the event names a
// connection, else "changed/app/<appID>/<auditID>". Markers older than an
// hour are deleted by DeleteExpired.
func ChangeMarker(kind, appID, connID, auditID string) string {
	switch kind {
	case AuditAppCreated, AuditConnectionCreated, AuditCodeIssued, AuditCodeExchanged,
		AuditPayment, AuditLoginFailed, AuditAdminAction:
		return ""
	}
	if connID != "" {
		return ChangedConnPrefix + connID + "/" + auditID
	}
	return ChangedAppPrefix + appID + "/" + auditID
}

// Change-marker stream prefixes (see ChangeMarker).
const (
	ChangedPrefix     = "changed/"
	ChangedConnPrefix = "changed/conn/"
	ChangedAppPrefix  = "changed/app/"
)

// AuditEvent is one entry in the audit trail. Detail never holds a secret.
type AuditEvent struct {
	ID           string
	At           time.Time
	Kind         string
	AppID        string
	ConnectionID string
	Detail       string
}

// Exchange asks a Store to consume an access code and create a token.
type Exchange struct {
	CodeDigest   []byte
	AppID        string
	ConnectionID string
	Now          time.Time
	// Token is the token to create when the code is good. The store fills
	// in ID (the tokenID the code was issued with), UserID (the
	// connection's), AppID, ConnectionID, CodeDigest and CreatedAt, and
	// stores Forwarded as given.
	Token Token
	// ClientUserID is filled in by the store on success: the clientUserID
	// the connection was made with, which the app checks is its user's.
	ClientUserID string
}

// ServerKey is a server key as a store knows it: its ID and check value
// (a digest under the key of a fixed string, see secret.CheckValue), never
// the key itself. Starting with a key whose check value differs from the
// store's fails.
type ServerKey struct {
	ID        string
	Check     []byte
	CreatedAt time.Time
	RetiredAt time.Time // zero while the key is in use
}

// KeySelector picks the stored digests one server key made: exactly Size
// bytes long, starting with Prefix (empty for a store's original key,
// whose digests are unprefixed). A connection's sealed session is always
// sealed under the key of its userSecret digest.
type KeySelector struct {
	Prefix []byte
	Size   int
}

// KeyUsage counts the live stored values one server key protects.
type KeyUsage struct {
	Apps        int // apps whose secret digest it made
	Connections int // linked connections whose userSecret digest and sealed session it made
	Tokens      int // unrevoked tokens whose digest it made
	Codes       int // unused, unexpired access codes whose digest it made
}

// Total is the number of values in u.
func (u KeyUsage) Total() int { return u.Apps + u.Connections + u.Tokens + u.Codes }

// Store is the persistence contract every backend implements and the
// storetest conformance suite checks. Methods return an *Error with code
// NotFound when a looked-up row does not exist and Conflict on a unique
// key clash; any other failure is an internal error. Mutating methods write
// their audit events in the same transaction as the change.
type Store interface {
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	Close() error

	// OperatorStore holds what the admin plane needs (admin.go).
	OperatorStore
	// WebhookStore holds webhook registrations and the outbox (webhook.go).
	WebhookStore

	// CreateApp stores a new app and audits app_created.
	CreateApp(ctx context.Context, app *App) error
	App(ctx context.Context, id string) (*App, error)
	AppByKey(ctx context.Context, key string) (*App, error)
	AppBySecret(ctx context.Context, digest []byte) (*App, error)
	ListApps(ctx context.Context) ([]*App, error)
	// RotateAppSecret replaces the app's secret digest and audits
	// secret_rotated.
	RotateAppSecret(ctx context.Context, appID string, digest []byte, now time.Time) error
	// UpdateApp runs fn on the current app inside a transaction and stores
	// what it leaves (name and registrations; not the key or secret).
	UpdateApp(ctx context.Context, appID string, now time.Time, fn func(*App) error) (*App, error)
	// AdvanceAppClock moves the app's sandbox test clock forward by d
	// (0 < d <= MaxClockAdvance) and returns its new offset. Every access
	// code of the app that is still unused moves d closer to its expiry in
	// the same transaction, so that a code expires at the earlier of its
	// real and its virtual expiry. If the offset would pass MaxClockOffset
	// it returns ParameterError and changes nothing; NotFound for an
	// unknown app. It audits clock_advanced.
	AdvanceAppClock(ctx context.Context, appID string, d time.Duration, now time.Time) (time.Duration, error)

	// CreateConnection stores a new connection together with the access
	// code issued for it, and audits connection_created and code_issued.
	CreateConnection(ctx context.Context, conn *Connection, code *AccessCode) error
	Connection(ctx context.Context, id string) (*Connection, error)

	// ExchangeAccessCode consumes the code in one conditional write and
	// stores ex.Token. The code must exist, belong to ex.AppID and
	// ex.ConnectionID, be unused and unexpired at ex.Now; then it is marked
	// used, the token is stored, and code_exchanged is audited. Otherwise it
	// returns InvalidAccessCode; if the code was already used by the same
	// app, it also revokes every token issued for it (reason
	// RevokedCodeReuse) and audits code_reused and token_revoked. Under any
	// concurrency exactly one exchange of a code succeeds.
	ExchangeAccessCode(ctx context.Context, ex *Exchange) error

	// Grant returns the token with the given digest and its connection.
	Grant(ctx context.Context, tokenDigest []byte) (*Grant, error)
	// GrantByTokenID is Grant keyed by the public tokenID.
	GrantByTokenID(ctx context.Context, tokenID string) (*Grant, error)
	// DelinkConnection marks the connection delinked, revokes its tokens
	// (reason RevokedDelinked), and audits user_delinked. Delinking twice
	// is not an error.
	DelinkConnection(ctx context.Context, connectionID string, now time.Time) error

	CreateOperation(ctx context.Context, op *Operation) error
	Operation(ctx context.Context, id string) (*Operation, error)
	// UpdateOperation stores op if the stored operation's status is still
	// fromStatus, and returns Conflict otherwise, so that one resume of an
	// operation wins.
	UpdateOperation(ctx context.Context, op *Operation, fromStatus string) error
	// DeleteExpired removes operations and unused access codes that
	// expired before now, the connections whose code expired unused (an
	// abandoned login: no token was ever issued for it), and audit events
	// from before auditBefore; it returns how many rows went.
	DeleteExpired(ctx context.Context, now, auditBefore time.Time) (int, error)

	// Audit returns the app's audit events, oldest first, at most limit.
	Audit(ctx context.Context, appID string, limit int) ([]AuditEvent, error)

	// AppendEvent appends body to the named event stream at position seq
	// (the first event is seq 1). It returns Conflict if seq is taken, which
	// is how writers of one stream serialise without locks.
	AppendEvent(ctx context.Context, stream string, seq int64, at time.Time, body []byte) error
	// Events returns the stream's events from seq after+1 on, in order.
	Events(ctx context.Context, stream string, after int64) ([]Event, error)
	// Changes is the store's change feed: up to limit appended events
	// whose position in the global append order is greater than after,
	// in that order, so that a process learns which streams others
	// changed. Positions grow with each append, but where writers run
	// concurrently (PostgreSQL) an event may become visible after events
	// with greater positions (its transaction committed later), and a
	// position may never appear (its transaction rolled back); readers
	// that need every change re-read a window behind the last position
	// they saw (see package sandbox).
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	// LastChange returns the greatest position in the change feed that is
	// visible now, 0 when the store has no events.
	LastChange(ctx context.Context) (int64, error)

	// ServerKeys returns the server keys the store knows, ordered by ID.
	ServerKeys(ctx context.Context) ([]ServerKey, error)
	// AddServerKey records a server key's check value; Conflict if the
	// store already knows a key with that ID.
	AddServerKey(ctx context.Context, k *ServerKey) error
	// KeyUsage counts the live values made with the key that sel selects,
	// at now.
	KeyUsage(ctx context.Context, sel KeySelector, now time.Time) (KeyUsage, error)
	// RetireServerKey marks the key id retired (NotFound if unknown) and
	// returns what depended on it (KeyUsage). If anything does, it returns
	// Conflict and changes nothing unless force; with force, in the same
	// transaction, it delinks the connections (audits user_delinked with
	// reason=key_retired), revokes the remaining tokens (reason
	// RevokedKeyRetired, audits token_revoked), expires the unused
	// access codes, and replaces each app's secret digest with a value no
	// secret matches (audits key_retired; the operator gives the app a new
	// secret with apps rotate-secret).
	RetireServerKey(ctx context.Context, id string, sel KeySelector, now time.Time, force bool) (KeyUsage, error)

	// Re-digesting: a secret presented under an older server key is
	// stored again under the primary on its next successful use. Each is
	// a compare-and-swap: it changes the row only while it still holds
	// old, and reports whether it did; of concurrent calls one wins and
	// the others change nothing and report false.

	// RedigestApp replaces the app's secret digest old with new.
	RedigestApp(ctx context.Context, appID string, old, new []byte) (bool, error)
	// RedigestToken replaces a token's digest old with new.
	RedigestToken(ctx context.Context, old, new []byte) (bool, error)
	// RedigestConnection replaces the connection's userSecret digest
	// oldDigest with newDigest and its sealed session with sealed.
	RedigestConnection(ctx context.Context, connID string, oldDigest, newDigest, sealed []byte) (bool, error)
}

// Change is one appended event in the store's change feed.
type Change struct {
	Pos    int64
	Stream string
}

// Event is one entry of an event stream (the sandbox bank keeps its
// ledger of transfers and beneficiaries this way).
type Event struct {
	Seq  int64
	At   time.Time
	Body []byte
}
