// Webhooks: each app's URL and keys (sealed with the server keyring), the
// events payments enqueue with their operation's record, the sandbox's
// sample events, and the operator's view of deliveries.

package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/webhook"
)

// WebhookKeyOverlap is how long a rotated signing secret keeps signing
// deliveries beside the new one.
const WebhookKeyOverlap = 24 * time.Hour

// maxWebhookURL bounds a webhook URL's length.
const maxWebhookURL = 2048

const sealWebhookKeys = "webhook-keys"

// OnWebhookEnqueued sets fn to be called (it must not block) after a
// request enqueued a webhook event, so that delivery starts at once
// rather than at the dispatcher's next poll. Call it before serving.
func (s *Service) OnWebhookEnqueued(fn func()) { s.webhookWake = fn }

func (s *Service) wakeWebhooks() {
	if s.webhookWake != nil {
		s.webhookWake()
	}
}

// checkWebhookURL validates a webhook URL for app: absolute, no user info
// or fragment; https, except that sandbox apps and loopback hosts may use
// http.
func checkWebhookURL(app *bankgate.App, raw string) error {
	if len(raw) > maxWebhookURL {
		return bankgate.Errorf(bankgate.ParameterError, "The webhook URL is longer than %d characters.", maxWebhookURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || u.User != nil {
		return bankgate.Errorf(bankgate.ParameterError, "The webhook URL must be an absolute http(s) URL without user info or a fragment.")
	}
	if u.Scheme == "http" && production(app) && !loopback(u.Hostname()) {
		return bankgate.Errorf(bankgate.ParameterError, "A production app's webhook URL must use https (http is allowed for sandbox apps and loopback addresses).")
	}
	return nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sealKeys and openKeys keep an app's webhook keys sealed under the
// server keyring, bound to the app.
func (s *Service) sealKeys(appID string, k webhook.Keys) ([]byte, error) {
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	return s.keys.Seal(appID, sealWebhookKeys, b)
}

func (s *Service) openKeys(appID string, sealed []byte) (webhook.Keys, error) {
	var k webhook.Keys
	b, err := s.keys.Open(appID, sealWebhookKeys, sealed)
	if err != nil {
		return k, fmt.Errorf("open webhook keys: %w", err)
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return k, fmt.Errorf("read webhook keys: %w", err)
	}
	return k, nil
}

// ensureKeys gives ep keys if it has none, or rotates its signing secret
// if rotate; it returns the keys.
func (s *Service) ensureKeys(ep *bankgate.WebhookEndpoint, rotate bool) (webhook.Keys, error) {
	var k webhook.Keys
	if ep.Keys == nil {
		k = webhook.NewKeys()
	} else {
		var err error
		if k, err = s.openKeys(ep.AppID, ep.Keys); err != nil {
			return k, err
		}
		if rotate {
			k = k.Rotate(s.Now(), WebhookKeyOverlap)
		}
	}
	sealed, err := s.sealKeys(ep.AppID, k)
	if err != nil {
		return k, err
	}
	ep.Keys = sealed
	return k, nil
}

// WebhookSettings is an app's webhook registration as an operator sees
// it: never its keys.
type WebhookSettings struct {
	URL       string
	HasKeys   bool
	UpdatedAt time.Time
}

// SetWebhookURL registers the app's webhook URL ("" removes it: events
// stop being enqueued) and makes its keys if it has none.
func (s *Service) SetWebhookURL(ctx context.Context, appKey, rawURL string) (*WebhookSettings, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	if rawURL != "" {
		if err := checkWebhookURL(app, rawURL); err != nil {
			return nil, err
		}
	}
	ep, err := s.store.UpdateWebhookEndpoint(ctx, app.ID, s.Now(), func(ep *bankgate.WebhookEndpoint) error {
		ep.URL = rawURL
		if ep.Keys == nil {
			_, err := s.ensureKeys(ep, false)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &WebhookSettings{URL: ep.URL, HasKeys: ep.Keys != nil, UpdatedAt: ep.UpdatedAt}, nil
}

// WebhookSettingsOf returns the app's webhook registration (an empty one
// if it has none).
func (s *Service) WebhookSettingsOf(ctx context.Context, appKey string) (*WebhookSettings, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	ep, err := s.store.WebhookEndpoint(ctx, app.ID)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return &WebhookSettings{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &WebhookSettings{URL: ep.URL, HasKeys: ep.Keys != nil, UpdatedAt: ep.UpdatedAt}, nil
}

// WebhookKeys returns the app's webhook keys, making them if it has none;
// with rotate, it first gives the app a new signing secret (the old one
// keeps signing for WebhookKeyOverlap; the encryption key stays).
func (s *Service) WebhookKeys(ctx context.Context, appKey string, rotate bool) (*webhook.Keys, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	var k webhook.Keys
	_, err = s.store.UpdateWebhookEndpoint(ctx, app.ID, s.Now(), func(ep *bankgate.WebhookEndpoint) error {
		var err error
		k, err = s.ensureKeys(ep, rotate)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// WebhookTarget returns where the app's events go and their keys, for the
// dispatcher; NotFound when the app has no webhook registration.
func (s *Service) WebhookTarget(ctx context.Context, appID string) (*webhook.Target, error) {
	ep, err := s.store.WebhookEndpoint(ctx, appID)
	if err != nil {
		return nil, err
	}
	if ep.URL == "" || ep.Keys == nil {
		return &webhook.Target{}, nil
	}
	k, err := s.openKeys(appID, ep.Keys)
	if err != nil {
		return nil, err
	}
	return &webhook.Target{URL: ep.URL, Keys: k}, nil
}

// WebhookDeliveries returns the app's most recent events (at most limit,
// at most 500), newest first, with their delivery status.
func (s *Service) WebhookDeliveries(ctx context.Context, appKey, status string, limit int) ([]bankgate.WebhookEvent, error) {
	app, err := s.operatorApp(ctx, appKey)
	if err != nil {
		return nil, err
	}
	switch status {
	case "", bankgate.WebhookPending, bankgate.WebhookDelivered, bankgate.WebhookFailed:
	default:
		return nil, bankgate.Errorf(bankgate.ParameterError, "status is pending, delivered or failed.")
	}
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	return s.store.WebhookEvents(ctx, bankgate.WebhookQuery{AppID: app.ID, Status: status, Limit: limit})
}

// WebhookEvent returns one event and its attempts (at most 100).
func (s *Service) WebhookEvent(ctx context.Context, id string) (*bankgate.WebhookEvent, []bankgate.WebhookAttempt, error) {
	if len(id) > 100 {
		return nil, nil, bankgate.Errorf(bankgate.NotFound, "No webhook event has that ID.")
	}
	e, err := s.store.WebhookEvent(ctx, id)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, nil, bankgate.Errorf(bankgate.NotFound, "No webhook event has that ID.")
	}
	if err != nil {
		return nil, nil, err
	}
	as, err := s.store.WebhookAttempts(ctx, id, 100)
	return e, as, err
}

// RedeliverWebhook delivers the event again, with the same webhook-id,
// and retries it for up to MaxWebhookAge again if need be.
func (s *Service) RedeliverWebhook(ctx context.Context, id string) (*bankgate.WebhookEvent, error) {
	if len(id) > 100 {
		return nil, bankgate.Errorf(bankgate.NotFound, "No webhook event has that ID.")
	}
	e, err := s.store.RedeliverWebhook(ctx, id, s.Now())
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, bankgate.Errorf(bankgate.NotFound, "No webhook event has that ID.")
	}
	if err != nil {
		return nil, err
	}
	s.wakeWebhooks()
	return e, nil
}

// FireSandboxWebhook enqueues a sample event of type typ for the sandbox
// app with the given secret (Plaid's sandbox fire_webhook is the model):
// the same shape as a real one, with sample values. It returns the
// event's webhook-id; ParameterError for an unknown type or an app with
// no webhook URL.
func (s *Service) FireSandboxWebhook(ctx context.Context, appSecret, typ string) (string, error) {
	app, err := s.sandboxApp(ctx, appSecret)
	if err != nil {
		return "", err
	}
	if !bankgate.IsWebhookType(typ) {
		return "", bankgate.Errorf(bankgate.ParameterError, "type is one of %s.", strings.Join(bankgate.WebhookTypes, ", "))
	}
	e := sampleWebhook(typ, app.ID, s.Now())
	ok, err := s.store.EnqueueWebhook(ctx, e)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", bankgate.Errorf(bankgate.ParameterError, "The app has no webhook URL: set one with `bankgate apps set --webhook-url`.")
	}
	s.wakeWebhooks()
	return e.ID, nil
}

// sampleConnection is the connection sample events name.
const sampleConnection = "sandbox-sample-connection"

// sampleWebhook is a sample event of type typ, as a real one would be.
func sampleWebhook(typ, appID string, now time.Time) *bankgate.WebhookEvent {
	opID := "SANDBOX_AE_ENBD:sample-" + newID()
	switch typ {
	case bankgate.WebhookTransferDone:
		return transferWebhook(appID, sampleConnection, "SANDBOX_AE_ENBD", opID, "/payment/transfer/create",
			&bankgate.TransferResult{Reference: "REF" + strings.ToUpper(newID()[:8]), Amount: 12550, Currency: bankgate.Currencies["AED"]}, nil, now)
	case bankgate.WebhookTransferFailed:
		return transferWebhook(appID, sampleConnection, "SANDBOX_AE_ENBD", opID, "/payment/transfer/create", nil,
			bankgate.Errorf(bankgate.InsufficientBalance, "Sample: the account's balance is too low."), now)
	case bankgate.WebhookACHPullDone:
		return achWebhook(appID, sampleConnection, "SANDBOX_AE_ENBD", opID, &bankgate.ACHPullRequest{SenderID: "sample-account", Amount: 5000, Description: "sample pull"}, nil, now)
	case bankgate.WebhookACHPullFailed:
		return achWebhook(appID, sampleConnection, "SANDBOX_AE_ENBD", opID, &bankgate.ACHPullRequest{SenderID: "sample-account", Amount: 5000, Description: "sample pull"},
			bankgate.Errorf(bankgate.InsufficientBalance, "Sample: the account's balance is too low."), now)
	case bankgate.WebhookConnectionDelinked:
		return bankgate.DelinkedWebhook(appID, sampleConnection, "SANDBOX_AE_ENBD", "sample-client-user", now)
	case bankgate.WebhookTokensRevoked:
		return bankgate.ConnectionRevokedWebhook(appID, sampleConnection, []string{"sample-token-" + newID()}, now)
	case bankgate.WebhookAccessCodeReused:
		return bankgate.CodeReusedWebhook(appID, sampleConnection, []string{"sample-token-" + newID()}, now)
	default: // bankgate.WebhookBeneficiaryActive
		return beneficiaryWebhook(appID, sampleConnection, "SANDBOX_AE_ENBD", opID,
			&bankgate.Beneficiary{ID: "sample-beneficiary", Name: "Sample Receiver", IBAN: "AE070331234567890123456", ActiveAt: now}, now)
	}
}

// transferWebhook is transfer.done or transfer.failed for the operation.
func transferWebhook(appID, connID, bankID, opID, endpoint string, res *bankgate.TransferResult, callErr error, at time.Time) *bankgate.WebhookEvent {
	data := map[string]any{"operationID": opID, "connectionID": connID, "bankID": bankID}
	private := map[string]any{"endpoint": endpoint}
	typ := bankgate.WebhookTransferDone
	if callErr != nil || res == nil {
		typ = bankgate.WebhookTransferFailed
		data["reference"] = ""
		data["errorType"] = string(bankgate.ErrorCode(callErr))
		private["msg"] = bankgate.ErrorMessage(callErr)
	} else {
		data["reference"] = res.Reference
		private["amount"] = res.Amount.Float()
		private["currency"] = res.Currency.Code
	}
	return bankgate.NewWebhookEvent(typ, appID, connID, at, data, private)
}

// achWebhook is ach_pull.done or ach_pull.failed; the pull's reference is
// its operation's ID.
func achWebhook(appID, connID, bankID, opID string, req *bankgate.ACHPullRequest, callErr error, at time.Time) *bankgate.WebhookEvent {
	data := map[string]any{"operationID": opID, "connectionID": connID, "bankID": bankID, "reference": opID}
	private := map[string]any{}
	if req != nil {
		private["amount"], private["senderID"], private["description"] = req.Amount.Float(), req.SenderID, req.Description
	}
	typ := bankgate.WebhookACHPullDone
	if callErr != nil {
		typ = bankgate.WebhookACHPullFailed
		data["errorType"] = string(bankgate.ErrorCode(callErr))
		private["msg"] = bankgate.ErrorMessage(callErr)
	}
	return bankgate.NewWebhookEvent(typ, appID, connID, at, data, private)
}

// beneficiaryWebhook is beneficiary.active, due when b's cool-down ends
// (b.ActiveAt is on the app's sandbox clock, which reads appNow when the
// real clock reads now).
func beneficiaryWebhook(appID, connID, bankID, opID string, b *bankgate.Beneficiary, now time.Time) *bankgate.WebhookEvent {
	e := bankgate.NewWebhookEvent(bankgate.WebhookBeneficiaryActive, appID, connID, now,
		map[string]any{"operationID": opID, "connectionID": connID, "bankID": bankID, "beneficiaryID": b.ID},
		map[string]any{"name": b.Name, "iban": b.IBAN, "accountNumber": b.AccountNumber, "activeAt": b.ActiveAt.UTC()})
	return e
}

// AppByKeyForOperator returns the app with the given key, disabled or
// not, never cached: the operator's lookup.
func (s *Service) AppByKeyForOperator(ctx context.Context, appKey string) (*bankgate.App, error) {
	return s.operatorApp(ctx, appKey)
}

// OperatorSetWebhook is SetWebhookURL for an operator, audited.
func (s *Service) OperatorSetWebhook(ctx context.Context, by Actor, appKey, rawURL string) (*WebhookSettings, error) {
	ws, err := s.SetWebhookURL(ctx, appKey, rawURL)
	if err != nil {
		return nil, err
	}
	if app, err := s.operatorApp(ctx, appKey); err == nil {
		s.record(ctx, &bankgate.AuditEvent{Kind: bankgate.AuditAdminAction, AppID: app.ID, Detail: by.detail() + " action=webhook_url_set"})
	}
	return ws, nil
}

// OperatorWebhookKeys is WebhookKeys for an operator, audited (never the
// keys themselves).
func (s *Service) OperatorWebhookKeys(ctx context.Context, by Actor, appKey string, rotate bool) (*webhook.Keys, error) {
	k, err := s.WebhookKeys(ctx, appKey, rotate)
	if err != nil {
		return nil, err
	}
	action := "webhook_keys_read"
	if rotate {
		action = "webhook_keys_rotated"
	}
	if app, err := s.operatorApp(ctx, appKey); err == nil {
		s.record(ctx, &bankgate.AuditEvent{Kind: bankgate.AuditAdminAction, AppID: app.ID, Detail: by.detail() + " action=" + action})
	}
	return k, nil
}

// OperatorRedeliverWebhook is RedeliverWebhook for an operator, audited.
func (s *Service) OperatorRedeliverWebhook(ctx context.Context, by Actor, id string) (*bankgate.WebhookEvent, error) {
	e, err := s.RedeliverWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	s.record(ctx, &bankgate.AuditEvent{Kind: bankgate.AuditAdminAction, AppID: e.AppID, ConnectionID: e.ConnectionID,
		Detail: by.detail() + " action=webhook_redeliver webhookID=" + oneWord(e.ID)})
	return e, nil
}
