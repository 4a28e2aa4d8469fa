package admin

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/service"
)

// webhookJSON is an app's webhook registration (never its keys).
type webhookJSON struct {
	URL       string  `json:"url"`
	HasKeys   bool    `json:"hasKeys"`
	UpdatedAt *string `json:"updatedAt,omitempty"`
}

func (h *Handler) showWebhook(r *http.Request, by service.Actor) (int, any, error) {
	ws, err := h.cfg.Service.WebhookSettingsOf(r.Context(), r.PathValue("appKey"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, webhookJSON{URL: ws.URL, HasKeys: ws.HasKeys, UpdatedAt: timeOf(ws.UpdatedAt)}, nil
}

func (h *Handler) setWebhook(r *http.Request, by service.Actor) (int, any, error) {
	var b struct {
		URL    *string `json:"url"`
		Reason string  `json:"reason"`
	}
	if err := decode(r, &b); err != nil {
		return 0, nil, err
	}
	if b.URL == nil {
		return 0, nil, badRequest(`url is required ("" removes the webhook).`)
	}
	by.Reason = b.Reason
	ws, err := h.cfg.Service.OperatorSetWebhook(r.Context(), by, r.PathValue("appKey"), *b.URL)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, webhookJSON{URL: ws.URL, HasKeys: ws.HasKeys, UpdatedAt: timeOf(ws.UpdatedAt)}, nil
}

// webhookKeys answers the app's keys, made if it has none; with
// {"rotate":true} a new signing secret first (the old one signs too for
// 24 hours).
func (h *Handler) webhookKeys(r *http.Request, by service.Actor) (int, any, error) {
	var b struct {
		Rotate bool   `json:"rotate"`
		Reason string `json:"reason"`
	}
	if err := decode(r, &b); err != nil {
		return 0, nil, err
	}
	by.Reason = b.Reason
	k, err := h.cfg.Service.OperatorWebhookKeys(r.Context(), by, r.PathValue("appKey"), b.Rotate)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"signingSecret": k.SigningSecret, "encryptionKey": k.EncryptionKey}, nil
}

// webhookEventJSON is a webhook event with its delivery status.
type webhookEventJSON struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	ConnectionID string          `json:"connectionID"`
	Status       string          `json:"status"`
	Attempts     int             `json:"attempts"`
	CreatedAt    *string         `json:"createdAt"`
	DueAt        *string         `json:"dueAt"`
	NextAt       *string         `json:"nextAttemptAt,omitempty"`
	DeliveredAt  *string         `json:"deliveredAt,omitempty"`
	LastStatus   int             `json:"lastStatus"`
	LastError    string          `json:"lastError"`
	Data         json.RawMessage `json:"data"`
	History      []attemptJSON   `json:"attemptHistory,omitempty"`
}

type attemptJSON struct {
	N          int     `json:"n"`
	At         *string `json:"at"`
	DurationMS int64   `json:"durationMs"`
	StatusCode int     `json:"statusCode"`
	Error      string  `json:"error"`
	Instance   string  `json:"instance"`
}

func webhookEventOf(e *bankgate.WebhookEvent) webhookEventJSON {
	j := webhookEventJSON{ID: e.ID, Type: e.Type, ConnectionID: e.ConnectionID, Status: e.Status, Attempts: e.Attempts,
		CreatedAt: timeOf(e.CreatedAt), DueAt: timeOf(e.DueAt), DeliveredAt: timeOf(e.DeliveredAt),
		LastStatus: e.LastStatus, LastError: e.LastError, Data: json.RawMessage(e.Data)}
	if e.Status == bankgate.WebhookPending {
		j.NextAt = timeOf(e.NextAt)
	}
	return j
}

func (h *Handler) listWebhooks(r *http.Request, by service.Actor) (int, any, error) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return 0, nil, badRequest("limit is a number from 1 to 500.")
		}
		limit = n
	}
	evs, err := h.cfg.Service.WebhookDeliveries(r.Context(), r.PathValue("appKey"), q.Get("status"), limit)
	if err != nil {
		return 0, nil, err
	}
	out := make([]webhookEventJSON, 0, len(evs))
	for i := range evs {
		out = append(out, webhookEventOf(&evs[i]))
	}
	return http.StatusOK, map[string]any{"events": out}, nil
}

func (h *Handler) showWebhookEvent(r *http.Request, by service.Actor) (int, any, error) {
	e, as, err := h.cfg.Service.WebhookEvent(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	j := webhookEventOf(e)
	for _, a := range as {
		j.History = append(j.History, attemptJSON{N: a.N, At: timeOf(a.At), DurationMS: a.Duration.Milliseconds(),
			StatusCode: a.StatusCode, Error: a.Error, Instance: a.Instance})
	}
	return http.StatusOK, j, nil
}

func (h *Handler) redeliverWebhook(r *http.Request, by service.Actor) (int, any, error) {
	if err := withReason(r, &by); err != nil {
		return 0, nil, err
	}
	e, err := h.cfg.Service.OperatorRedeliverWebhook(r.Context(), by, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, webhookEventOf(e), nil
}
