package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/service"
)

// maxBody bounds an admin request body.
const maxBody = 64 << 10

// decode reads a JSON object body into v, refusing unknown fields, other
// content types and trailing data. An empty body leaves v as it is.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return badRequest("The request body could not be read.")
	}
	if len(b) > maxBody {
		return &requestError{http.StatusRequestEntityTooLarge, "too_large", "The request body is larger than 64 KiB."}
	}
	if len(b) == 0 {
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &requestError{http.StatusUnsupportedMediaType, "unsupported_media_type", "The Content-Type must be application/json."}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return badRequest("The field \"" + ute.Field + "\" has the wrong type.")
		}
		return badRequest("The body is not a JSON object of the expected fields: " + err.Error())
	}
	if dec.More() {
		return badRequest("The body holds more than one JSON value.")
	}
	return nil
}

// times renders a time as RFC 3339 in UTC, nil when zero.
func timeOf(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// appJSON is an app as the admin API shows it; never its secret.
type appJSON struct {
	AppKey              string   `json:"appKey"`
	AppID               string   `json:"appID"`
	Name                string   `json:"name"`
	Environment         string   `json:"environment"`
	CreatedAt           *string  `json:"createdAt"`
	SecretRotatedAt     *string  `json:"secretRotatedAt,omitempty"`
	PreviousSecretUntil *string  `json:"previousSecretValidUntil,omitempty"`
	Disabled            bool     `json:"disabled"`
	DisabledAt          *string  `json:"disabledAt,omitempty"`
	AllowedOrigins      []string `json:"allowedOrigins"`
	RedirectURIs        []string `json:"redirectURIs"`
	BundleIDs           []string `json:"bundleIDs"`
	ServerURL           string   `json:"serverURL"`
	Forwarding          bool     `json:"forwarding"`
	ClockOffset         string   `json:"sandboxClockOffset"`
	SandboxEpoch        int64    `json:"sandboxEpoch"`
	Connections         *int     `json:"connections,omitempty"`
	Tokens              *int     `json:"tokens,omitempty"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func appOf(a *bankgate.App, st *bankgate.AppStats) appJSON {
	j := appJSON{
		AppKey: a.Key, AppID: a.ID, Name: a.Name, Environment: a.Environment, CreatedAt: timeOf(a.CreatedAt),
		SecretRotatedAt: timeOf(a.SecretRotatedAt), Disabled: a.Disabled(), DisabledAt: timeOf(a.DisabledAt),
		AllowedOrigins: nonNil(a.AllowedOrigins), RedirectURIs: nonNil(a.RedirectURIs), BundleIDs: nonNil(a.BundleIDs),
		ServerURL: a.ServerURL, Forwarding: a.Forwarding, ClockOffset: a.ClockOffset.String(), SandboxEpoch: a.SandboxEpoch,
	}
	if a.PrevSecretDigest != nil && a.PrevSecretUntil.After(time.Now()) {
		j.PreviousSecretUntil = timeOf(a.PrevSecretUntil)
	}
	if st != nil {
		j.Connections, j.Tokens = &st.Connections, &st.Tokens
	}
	return j
}

func (h *Handler) whoami(r *http.Request, by service.Actor) (int, any, error) {
	return http.StatusOK, map[string]string{"tokenID": by.TokenID, "clientAddress": by.Addr}, nil
}

func (h *Handler) listApps(r *http.Request, by service.Actor) (int, any, error) {
	views, err := h.cfg.Service.OperatorApps(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]appJSON, 0, len(views))
	for _, v := range views {
		out = append(out, appOf(v.App, &v.Stats))
	}
	return http.StatusOK, map[string]any{"apps": out}, nil
}

func (h *Handler) showApp(r *http.Request, by service.Actor) (int, any, error) {
	v, err := h.cfg.Service.OperatorApp(r.Context(), r.PathValue("appKey"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, appOf(v.App, &v.Stats), nil
}

// appBody is the body of app create and update: absent fields stay as
// they are; a list given replaces the registered one.
type appBody struct {
	Name           *string   `json:"name"`
	Environment    *string   `json:"environment"`
	AllowedOrigins *[]string `json:"allowedOrigins"`
	RedirectURIs   *[]string `json:"redirectURIs"`
	BundleIDs      *[]string `json:"bundleIDs"`
	ServerURL      *string   `json:"serverURL"`
	Forwarding     *bool     `json:"forwarding"`
}

func (b *appBody) change() service.AppChange {
	return service.AppChange{Name: b.Name, Environment: b.Environment, AllowedOrigins: b.AllowedOrigins, RedirectURIs: b.RedirectURIs,
		BundleIDs: b.BundleIDs, ServerURL: b.ServerURL, Forwarding: b.Forwarding}
}

func (h *Handler) createApp(r *http.Request, by service.Actor) (int, any, error) {
	var b appBody
	if err := decode(r, &b); err != nil {
		return 0, nil, err
	}
	na, err := h.cfg.Service.OperatorCreateApp(r.Context(), by, b.change())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"app": appOf(na.App, &bankgate.AppStats{}), "appSecret": na.Secret}, nil
}

func (h *Handler) updateApp(r *http.Request, by service.Actor) (int, any, error) {
	var b appBody
	if err := decode(r, &b); err != nil {
		return 0, nil, err
	}
	if _, err := h.cfg.Service.OperatorUpdateApp(r.Context(), by, r.PathValue("appKey"), b.change()); err != nil {
		return 0, nil, err
	}
	return h.showApp(r, by)
}

// reasonBody is the body of actions that take only an operator's note.
type reasonBody struct {
	Reason string `json:"reason"`
}

// withReason decodes a reasonBody into by.
func withReason(r *http.Request, by *service.Actor) error {
	var b reasonBody
	if err := decode(r, &b); err != nil {
		return err
	}
	by.Reason = b.Reason
	return nil
}

func (h *Handler) rotateSecret(r *http.Request, by service.Actor) (int, any, error) {
	var b struct {
		Overlap string `json:"overlap"`
		Reason  string `json:"reason"`
	}
	if err := decode(r, &b); err != nil {
		return 0, nil, err
	}
	by.Reason = b.Reason
	var overlap time.Duration
	if b.Overlap != "" {
		d, err := time.ParseDuration(b.Overlap)
		if err != nil {
			return 0, nil, badRequest("overlap is a Go duration such as \"24h\" or \"90m\".")
		}
		overlap = d
	}
	rot, err := h.cfg.Service.RotateSecret(r.Context(), by, r.PathValue("appKey"), overlap)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"app": appOf(rot.App, nil), "appSecret": rot.Secret, "previousSecretValidUntil": timeOf(rot.OldUntil)}, nil
}

func (h *Handler) disable(r *http.Request, by service.Actor) (int, any, error) {
	return h.setDisabled(r, by, true)
}

func (h *Handler) enable(r *http.Request, by service.Actor) (int, any, error) {
	return h.setDisabled(r, by, false)
}

func (h *Handler) setDisabled(r *http.Request, by service.Actor, disabled bool) (int, any, error) {
	if err := withReason(r, &by); err != nil {
		return 0, nil, err
	}
	app, err := h.cfg.Service.SetAppDisabled(r.Context(), by, r.PathValue("appKey"), disabled)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, appOf(app, nil), nil
}

// connJSON is a connection as the admin API shows it; never its secrets.
type connJSON struct {
	ConnectionID string      `json:"connectionID"`
	BankID       string      `json:"bankID"`
	UserID       string      `json:"userID"`
	ClientUserID string      `json:"clientUserID"`
	State        string      `json:"state"`
	CreatedAt    *string     `json:"createdAt"`
	DelinkedAt   *string     `json:"delinkedAt,omitempty"`
	RevokedAt    *string     `json:"revokedAt,omitempty"`
	LastUsedAt   *string     `json:"lastUsedAt,omitempty"`
	Tokens       []tokenJSON `json:"tokens,omitempty"`
}

type tokenJSON struct {
	TokenID      string  `json:"tokenID"`
	CreatedAt    *string `json:"createdAt"`
	RevokedAt    *string `json:"revokedAt,omitempty"`
	RevokeReason string  `json:"revokeReason,omitempty"`
	Forwarded    bool    `json:"forwarded"`
}

func connOf(c *bankgate.ConnectionInfo) connJSON {
	return connJSON{ConnectionID: c.ID, BankID: c.BankID, UserID: c.UserID, ClientUserID: c.ClientUserID, State: c.State(),
		CreatedAt: timeOf(c.CreatedAt), DelinkedAt: timeOf(c.DelinkedAt), RevokedAt: timeOf(c.RevokedAt), LastUsedAt: timeOf(c.LastUsedAt)}
}

func connViewOf(v *service.ConnectionView) connJSON {
	j := connOf(&v.Connection)
	j.Tokens = []tokenJSON{}
	for _, t := range v.Tokens {
		j.Tokens = append(j.Tokens, tokenJSON{TokenID: t.ID, CreatedAt: timeOf(t.CreatedAt), RevokedAt: timeOf(t.RevokedAt), RevokeReason: t.RevokeReason, Forwarded: t.Forwarded})
	}
	return j
}

// queryTime parses an RFC 3339 query parameter; zero when absent.
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest(name + " is an RFC 3339 time such as 2026-03-15T10:00:00Z.")
	}
	return t, nil
}

func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 500 {
		return 0, badRequest("limit is a number from 1 to 500.")
	}
	return n, nil
}

// knownQuery refuses query parameters other than the given ones, so that
// a misspelt filter does not silently return everything.
func knownQuery(r *http.Request, names ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, n := range names {
			if k == n {
				ok = true
			}
		}
		if !ok {
			return badRequest("Unknown query parameter \"" + k + "\".")
		}
	}
	return nil
}

func (h *Handler) listConnections(r *http.Request, by service.Actor) (int, any, error) {
	if err := knownQuery(r, "bankID", "clientUserID", "createdAfter", "createdBefore", "state", "cursor", "limit"); err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	f := service.ConnectionFilter{BankID: q.Get("bankID"), ClientUserID: q.Get("clientUserID"), State: q.Get("state"), Cursor: q.Get("cursor")}
	var err error
	if f.CreatedAfter, err = queryTime(r, "createdAfter"); err != nil {
		return 0, nil, err
	}
	if f.CreatedBefore, err = queryTime(r, "createdBefore"); err != nil {
		return 0, nil, err
	}
	if f.Limit, err = queryLimit(r); err != nil {
		return 0, nil, err
	}
	page, err := h.cfg.Service.OperatorConnections(r.Context(), r.PathValue("appKey"), f)
	if err != nil {
		return 0, nil, err
	}
	out := make([]connJSON, 0, len(page.Connections))
	for i := range page.Connections {
		out = append(out, connOf(&page.Connections[i]))
	}
	return http.StatusOK, map[string]any{"connections": out, "next": page.Next}, nil
}

func (h *Handler) showConnection(r *http.Request, by service.Actor) (int, any, error) {
	v, err := h.cfg.Service.OperatorConnection(r.Context(), r.PathValue("appKey"), r.PathValue("connectionID"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, connViewOf(v), nil
}

func (h *Handler) revokeConnection(r *http.Request, by service.Actor) (int, any, error) {
	if err := withReason(r, &by); err != nil {
		return 0, nil, err
	}
	v, err := h.cfg.Service.RevokeConnection(r.Context(), by, r.PathValue("appKey"), r.PathValue("connectionID"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, connViewOf(v), nil
}

func (h *Handler) revokeTokens(r *http.Request, by service.Actor) (int, any, error) {
	var b struct {
		Before string `json:"before"`
		Reason string `json:"reason"`
	}
	if err := decode(r, &b); err != nil {
		return 0, nil, err
	}
	by.Reason = b.Reason
	var before time.Time
	if b.Before != "" {
		t, err := time.Parse(time.RFC3339Nano, b.Before)
		if err != nil {
			return 0, nil, badRequest("before is an RFC 3339 time such as 2026-03-15T10:00:00Z.")
		}
		before = t
	}
	n, err := h.cfg.Service.RevokeTokens(r.Context(), by, r.PathValue("appKey"), before)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"appKey": r.PathValue("appKey"), "revoked": n}, nil
}

type eventJSON struct {
	ID           string  `json:"id"`
	At           *string `json:"at"`
	Type         string  `json:"type"`
	AppKey       string  `json:"appKey"`
	AppID        string  `json:"appID"`
	ConnectionID string  `json:"connectionID,omitempty"`
	Detail       string  `json:"detail"`
}

func (h *Handler) audit(r *http.Request, by service.Actor) (int, any, error) {
	if err := knownQuery(r, "appKey", "connectionID", "type", "before", "cursor", "limit"); err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	f := service.AuditFilter{AppKey: q.Get("appKey"), ConnectionID: q.Get("connectionID"), Kind: q.Get("type"), Cursor: q.Get("cursor")}
	var err error
	if f.Before, err = queryTime(r, "before"); err != nil {
		return 0, nil, err
	}
	if f.Limit, err = queryLimit(r); err != nil {
		return 0, nil, err
	}
	page, err := h.cfg.Service.SearchAudit(r.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	out := make([]eventJSON, 0, len(page.Events))
	for _, e := range page.Events {
		out = append(out, eventJSON{ID: e.ID, At: timeOf(e.At), Type: e.Kind, AppKey: page.AppKeys[e.AppID], AppID: e.AppID, ConnectionID: e.ConnectionID, Detail: e.Detail})
	}
	return http.StatusOK, map[string]any{"events": out, "next": page.Next}, nil
}

type sandboxJSON struct {
	AppKey      string            `json:"appKey"`
	Epoch       int64             `json:"epoch"`
	ClockNow    *string           `json:"clockNow"`
	ClockOffset string            `json:"clockOffset"`
	Users       []sandboxUserJSON `json:"users"`
}

type sandboxUserJSON struct {
	BankID   string `json:"bankID"`
	Username string `json:"username"`
}

func sandboxOf(v *service.SandboxView) sandboxJSON {
	j := sandboxJSON{AppKey: v.App.Key, Epoch: v.App.SandboxEpoch, ClockNow: timeOf(v.Clock.Now), ClockOffset: v.Clock.Offset.String(), Users: []sandboxUserJSON{}}
	for _, u := range v.Users {
		j.Users = append(j.Users, sandboxUserJSON{BankID: u.BankID, Username: u.Username})
	}
	return j
}

func (h *Handler) showSandbox(r *http.Request, by service.Actor) (int, any, error) {
	v, err := h.cfg.Service.OperatorSandbox(r.Context(), r.PathValue("appKey"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, sandboxOf(v), nil
}

func (h *Handler) resetSandbox(r *http.Request, by service.Actor) (int, any, error) {
	if err := withReason(r, &by); err != nil {
		return 0, nil, err
	}
	v, err := h.cfg.Service.ResetSandbox(r.Context(), by, r.PathValue("appKey"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, sandboxOf(v), nil
}

func (h *Handler) requests(r *http.Request, by service.Actor) (int, any, error) {
	out := []RequestCount{}
	if h.cfg.Requests != nil {
		out = append(out, h.cfg.Requests()...)
	}
	return http.StatusOK, map[string]any{"requests": out}, nil
}
