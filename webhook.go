package bankgate

import (
	"context"
	"encoding/json"
	"time"
)

// Webhook event types (docs/webhooks.md describes each one's data and
// encrypted shape).
const (
	// WebhookTransferDone and WebhookTransferFailed: a transfer (local,
	// international, autoflow or US wire) reached its final state.
	WebhookTransferDone   = "transfer.done"
	WebhookTransferFailed = "transfer.failed"
	// WebhookACHPullDone and WebhookACHPullFailed: an ACH pull reached its
	// final state.
	WebhookACHPullDone   = "ach_pull.done"
	WebhookACHPullFailed = "ach_pull.failed"
	// WebhookConnectionDelinked: the user delinked the connection.
	WebhookConnectionDelinked = "connection.delinked"
	// WebhookTokensRevoked: an operator revoked one connection's tokens,
	// or all of an app's (the kill switch).
	WebhookTokensRevoked = "tokens.revoked"
	// WebhookAccessCodeReused: an access code was exchanged a second time
	// and the token it had issued was revoked.
	WebhookAccessCodeReused = "access_code.reused"
	// WebhookBeneficiaryActive: a new beneficiary's cool-down ended; it
	// can receive transfers. Delivered when the cool-down ends.
	WebhookBeneficiaryActive = "beneficiary.active"
)

// WebhookTypes lists every event type, in documentation order.
var WebhookTypes = []string{
	WebhookTransferDone, WebhookTransferFailed, WebhookACHPullDone, WebhookACHPullFailed,
	WebhookConnectionDelinked, WebhookTokensRevoked, WebhookAccessCodeReused, WebhookBeneficiaryActive,
}

// IsWebhookType reports whether t is one of WebhookTypes.
func IsWebhookType(t string) bool {
	for _, w := range WebhookTypes {
		if w == t {
			return true
		}
	}
	return false
}

// Webhook event delivery states.
const (
	WebhookPending   = "pending"   // waiting for its first or next attempt
	WebhookDelivered = "delivered" // a receiver answered 2xx
	WebhookFailed    = "failed"    // no 2xx within MaxWebhookAge; redeliver to try again
)

// MaxWebhookAge is how long delivery of an event is retried before it is
// given up as failed.
const MaxWebhookAge = 72 * time.Hour

// WebhookEndpoint is an app's webhook registration: where its events go
// and its keys, sealed by the service (the signing secrets and the
// encryption key are never stored in clear).
type WebhookEndpoint struct {
	AppID     string
	URL       string // "" while the app has no webhook
	Keys      []byte // sealed; nil until keys are made
	UpdatedAt time.Time
}

// WebhookEvent is one event in the outbox: written in the same
// transaction as the change it announces, then delivered at least once,
// in order per connection (events of the same app and ConnectionID, by
// DueAt then Seq).
type WebhookEvent struct {
	Seq          int64  // the store's order of insertion
	ID           string // the webhook-id, the same on every attempt
	AppID        string
	ConnectionID string // "" for app-wide events
	Type         string
	CreatedAt    time.Time
	// Data is the JSON object of identifiers sent in clear; Private the
	// JSON object sent encrypted (encryptedData).
	Data    []byte
	Private []byte
	// DueAt is when the event may first be delivered (its creation, or
	// later for an event about the future, such as a beneficiary's
	// cool-down ending).
	DueAt time.Time
	// Since is when the current series of attempts began (DueAt, or the
	// last redelivery); it is given up MaxWebhookAge after.
	Since       time.Time
	NextAt      time.Time // when the next attempt is due
	Status      string
	Attempts    int // attempts started, every series included
	DeliveredAt time.Time
	LastError   string
	LastStatus  int // HTTP status of the last answer, 0 for none
}

// WebhookAttempt is one delivery attempt, recorded whatever its outcome.
type WebhookAttempt struct {
	EventID    string
	N          int // the event's attempt number, from 1
	At         time.Time
	Duration   time.Duration
	StatusCode int    // 0: no HTTP answer
	Error      string // "" when the receiver answered 2xx
	Instance   string // the server instance that made it
}

// WebhookClaim asks for up to Limit events that may be attempted at Now:
// pending, due, not leased, and each the first pending event of its
// connection. The store leases them to Owner until LeaseUntil and counts
// the attempt, atomically, so that no other claim returns them meanwhile.
type WebhookClaim struct {
	Now        time.Time
	LeaseUntil time.Time
	Owner      string
	Limit      int
}

// WebhookResult finishes a claimed attempt: the attempt is recorded, and
// the event becomes Status (WebhookDelivered, WebhookFailed, or
// WebhookPending again with its NextAt).
type WebhookResult struct {
	Attempt WebhookAttempt
	Owner   string
	Status  string
	NextAt  time.Time
}

// WebhookQuery selects an app's events, newest first.
type WebhookQuery struct {
	AppID     string
	Status    string // "" for any
	BeforeSeq int64  // cursor: 0 for the first page
	Limit     int
}

// WebhookStore is the part of the Store contract that keeps webhook
// registrations and the outbox. Stores also enqueue events themselves, in
// the same transaction as the change: DelinkConnection
// (connection.delinked), ExchangeAccessCode of a reused code
// (access_code.reused), RevokeConnection and RevokeAppTokens
// (tokens.revoked), and CreateOperation or UpdateOperation with an
// Operation's Webhook set. An event is enqueued only while its app has a
// webhook URL.
type WebhookStore interface {
	// WebhookEndpoint returns the app's registration; NotFound if it has
	// none.
	WebhookEndpoint(ctx context.Context, appID string) (*WebhookEndpoint, error)
	// UpdateWebhookEndpoint runs fn on the app's registration (a new, empty
	// one if it has none) in a transaction and stores what it leaves.
	// NotFound for an unknown app.
	UpdateWebhookEndpoint(ctx context.Context, appID string, now time.Time, fn func(*WebhookEndpoint) error) (*WebhookEndpoint, error)
	// EnqueueWebhook adds e to the outbox if its app has a webhook URL, and
	// reports whether it did. The store fills in Seq, ID (if empty), the
	// status and the times (DueAt and CreatedAt as given; zero DueAt is
	// CreatedAt).
	EnqueueWebhook(ctx context.Context, e *WebhookEvent) (bool, error)
	// ClaimWebhooks leases the events c selects (see WebhookClaim).
	ClaimWebhooks(ctx context.Context, c WebhookClaim) ([]WebhookEvent, error)
	// FinishWebhook records r.Attempt and, if the event is still leased to
	// r.Owner for that attempt, sets its outcome; Conflict otherwise (the
	// lease ran out and another attempt may have begun). If the event was
	// redelivered while the attempt was in flight, the outcome is not set:
	// the event stays pending, due when the redelivery said, and only the
	// lease is released.
	FinishWebhook(ctx context.Context, r *WebhookResult) error
	// WebhookEvents returns the events q selects, newest first.
	WebhookEvents(ctx context.Context, q WebhookQuery) ([]WebhookEvent, error)
	// WebhookEvent returns one event by ID; NotFound if unknown.
	WebhookEvent(ctx context.Context, id string) (*WebhookEvent, error)
	// WebhookAttempts returns the event's attempts, oldest first, at most
	// limit.
	WebhookAttempts(ctx context.Context, eventID string, limit int) ([]WebhookAttempt, error)
	// RedeliverWebhook makes the event pending again, due at now, with a
	// new series of attempts (Since = now); NotFound if unknown. An attempt
	// in flight keeps its lease (the redelivery is the next attempt, not a
	// concurrent one), and its finish leaves the event pending.
	RedeliverWebhook(ctx context.Context, id string, now time.Time) (*WebhookEvent, error)
	// PruneWebhooks deletes delivered and failed events created before
	// before, with their attempts, and returns how many events went.
	PruneWebhooks(ctx context.Context, before time.Time) (int, error)
}

// NewWebhookEvent makes an event of type typ for the app (and connection,
// "" for an app-wide event) at at, due at once, with data and private
// marshalled as JSON objects (nil is {}).
func NewWebhookEvent(typ, appID, connID string, at time.Time, data, private map[string]any) *WebhookEvent {
	return &WebhookEvent{Type: typ, AppID: appID, ConnectionID: connID, CreatedAt: at, DueAt: at,
		Data: jsonObject(data), Private: jsonObject(private)}
}

func jsonObject(m map[string]any) []byte {
	if m == nil {
		return []byte("{}")
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic("bankgate: webhook data: " + err.Error()) // only strings, numbers, lists and times go in
	}
	return b
}

// The events stores enqueue themselves (see WebhookStore).

// DelinkedWebhook is connection.delinked.
func DelinkedWebhook(appID, connID, bankID, clientUserID string, at time.Time) *WebhookEvent {
	return NewWebhookEvent(WebhookConnectionDelinked, appID, connID, at,
		map[string]any{"connectionID": connID, "bankID": bankID},
		map[string]any{"clientUserID": clientUserID, "delinkedAt": at.UTC()})
}

// CodeReusedWebhook is access_code.reused: the tokens the reuse revoked.
func CodeReusedWebhook(appID, connID string, tokenIDs []string, at time.Time) *WebhookEvent {
	if tokenIDs == nil {
		tokenIDs = []string{}
	}
	return NewWebhookEvent(WebhookAccessCodeReused, appID, connID, at,
		map[string]any{"connectionID": connID, "revokedTokens": len(tokenIDs)},
		map[string]any{"tokenIDs": tokenIDs, "reason": RevokedCodeReuse})
}

// ConnectionRevokedWebhook is tokens.revoked for one connection.
func ConnectionRevokedWebhook(appID, connID string, tokenIDs []string, at time.Time) *WebhookEvent {
	if tokenIDs == nil {
		tokenIDs = []string{}
	}
	return NewWebhookEvent(WebhookTokensRevoked, appID, connID, at,
		map[string]any{"scope": "connection", "connectionID": connID, "count": len(tokenIDs)},
		map[string]any{"tokenIDs": tokenIDs, "reason": RevokedByAdmin})
}

// AppTokensRevokedWebhook is tokens.revoked for an app's kill switch:
// count tokens issued before before (zero: all) revoked.
func AppTokensRevokedWebhook(appID string, count int, before, at time.Time) *WebhookEvent {
	private := map[string]any{"reason": RevokedByAdmin}
	if !before.IsZero() {
		private["issuedBefore"] = before.UTC()
	}
	return NewWebhookEvent(WebhookTokensRevoked, appID, "", at,
		map[string]any{"scope": "app", "count": count}, private)
}
