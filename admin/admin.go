// Package admin serves bankgate's operator plane on its own listener: the
// admin JSON API under /admin/v1/ (apps, connections, the kill switch,
// audit search, sandbox worlds), the web console at /admin/ (embedded
// assets, no CDN, a strict Content-Security-Policy), and /metrics,
// /healthz and /readyz.
//
// Every /admin/v1/ request needs the admin token as a bearer token; the
// console keeps it in memory only (never in a cookie or in storage), so
// there is no ambient credential for a cross-site request to ride on.
// Errors are {"error":{"code","message"}}. Every change is audited with
// the admin token's ID and the client's address.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/requestid"
	"github.com/bankgate/bankgate/service"
	"github.com/bankgate/bankgate/webhook"
)

// Service is what the admin plane needs of the application layer;
// *service.Service implements it.
type Service interface {
	OperatorApps(ctx context.Context) ([]service.AppView, error)
	OperatorApp(ctx context.Context, appKey string) (*service.AppView, error)
	OperatorCreateApp(ctx context.Context, by service.Actor, c service.AppChange) (*service.NewApp, error)
	OperatorUpdateApp(ctx context.Context, by service.Actor, appKey string, c service.AppChange) (*bankgate.App, error)
	RotateSecret(ctx context.Context, by service.Actor, appKey string, overlap time.Duration) (*service.Rotated, error)
	SetAppDisabled(ctx context.Context, by service.Actor, appKey string, disabled bool) (*bankgate.App, error)
	OperatorConnections(ctx context.Context, appKey string, f service.ConnectionFilter) (*service.ConnectionPage, error)
	OperatorConnection(ctx context.Context, appKey, connID string) (*service.ConnectionView, error)
	RevokeConnection(ctx context.Context, by service.Actor, appKey, connID string) (*service.ConnectionView, error)
	RevokeTokens(ctx context.Context, by service.Actor, appKey string, before time.Time) (int, error)
	SearchAudit(ctx context.Context, f service.AuditFilter) (*service.AuditPage, error)
	OperatorSandbox(ctx context.Context, appKey string) (*service.SandboxView, error)
	ResetSandbox(ctx context.Context, by service.Actor, appKey string) (*service.SandboxView, error)
	WebhookSettingsOf(ctx context.Context, appKey string) (*service.WebhookSettings, error)
	OperatorSetWebhook(ctx context.Context, by service.Actor, appKey, url string) (*service.WebhookSettings, error)
	OperatorWebhookKeys(ctx context.Context, by service.Actor, appKey string, rotate bool) (*webhook.Keys, error)
	WebhookDeliveries(ctx context.Context, appKey, status string, limit int) ([]bankgate.WebhookEvent, error)
	WebhookEvent(ctx context.Context, id string) (*bankgate.WebhookEvent, []bankgate.WebhookAttempt, error)
	OperatorRedeliverWebhook(ctx context.Context, by service.Actor, id string) (*bankgate.WebhookEvent, error)
	Ready(ctx context.Context) error
}

var _ Service = (*service.Service)(nil)

// Config configures the admin handler.
type Config struct {
	Service Service
	// Token checks a presented admin token in constant time and returns
	// its ID (see Token).
	Token *Token
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// Requests, when set, reports the request counts the console charts
	// (see RequestCounts).
	Requests func() []RequestCount
	// Unavailable reports whether an error means the store is
	// unreachable (answered 503); may be nil.
	Unavailable func(error) bool
	Logger      *slog.Logger
}

// RequestCount is how many requests one API route answered with one
// result ("ok" or an error type), for the console's chart.
type RequestCount struct {
	Route  string  `json:"route"`
	Result string  `json:"result"`
	Count  float64 `json:"count"`
}

// Handler serves the admin listener.
type Handler struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the admin listener's handler.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.routes()
	return h
}

// ServeHTTP implements http.Handler. Every response carries the request's
// ID in X-Request-ID (the client's, when sane, else a new one); every
// request but the probes and scrapes (/healthz, /readyz, /metrics) is
// logged in one access log line at level info: request ID, method, route
// pattern, status, client address and duration, never a header, body or
// query.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get(requestid.Header)
	if !requestid.Valid(id) {
		id = requestid.New()
	}
	w.Header().Set(requestid.Header, id)
	r = r.WithContext(requestid.NewContext(r.Context(), id))
	sw := &statusWriter{ResponseWriter: w}
	h.mux.ServeHTTP(sw, r)
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		return
	}
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	h.log.LogAttrs(context.Background(), slog.LevelInfo, "admin request",
		slog.String("reqID", id),
		slog.String("method", r.Method),
		slog.String("route", r.Pattern),
		slog.Int("status", status),
		slog.Float64("dur_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("client", clientAddr(r)),
	)
}

// statusWriter records a response's status.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// apiFunc handles one admin API call: it returns the value to render as
// JSON with the status, or an error.
type apiFunc func(r *http.Request, by service.Actor) (int, any, error)

// methods maps HTTP methods to the handlers of one path.
type methods map[string]apiFunc

func (h *Handler) routes() {
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	h.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := h.cfg.Service.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if h.cfg.Metrics != nil {
		h.mux.Handle("GET /metrics", h.cfg.Metrics)
	}
	h.console()

	h.api("/admin/v1/whoami", methods{"GET": h.whoami})
	h.api("/admin/v1/apps", methods{"GET": h.listApps, "POST": h.createApp})
	h.api("/admin/v1/apps/{appKey}", methods{"GET": h.showApp, "PATCH": h.updateApp})
	h.api("/admin/v1/apps/{appKey}/rotate-secret", methods{"POST": h.rotateSecret})
	h.api("/admin/v1/apps/{appKey}/disable", methods{"POST": h.disable})
	h.api("/admin/v1/apps/{appKey}/enable", methods{"POST": h.enable})
	h.api("/admin/v1/apps/{appKey}/connections", methods{"GET": h.listConnections})
	h.api("/admin/v1/apps/{appKey}/connections/{connectionID}", methods{"GET": h.showConnection})
	h.api("/admin/v1/apps/{appKey}/connections/{connectionID}/revoke", methods{"POST": h.revokeConnection})
	h.api("/admin/v1/apps/{appKey}/revoke-tokens", methods{"POST": h.revokeTokens})
	h.api("/admin/v1/apps/{appKey}/sandbox", methods{"GET": h.showSandbox})
	h.api("/admin/v1/apps/{appKey}/sandbox/reset", methods{"POST": h.resetSandbox})
	h.api("/admin/v1/apps/{appKey}/webhook", methods{"GET": h.showWebhook, "PUT": h.setWebhook})
	h.api("/admin/v1/apps/{appKey}/webhook-keys", methods{"POST": h.webhookKeys})
	h.api("/admin/v1/apps/{appKey}/webhooks", methods{"GET": h.listWebhooks})
	h.api("/admin/v1/webhooks/{id}", methods{"GET": h.showWebhookEvent})
	h.api("/admin/v1/webhooks/{id}/redeliver", methods{"POST": h.redeliverWebhook})
	h.api("/admin/v1/audit", methods{"GET": h.audit})
	h.api("/admin/v1/requests", methods{"GET": h.requests})
	h.api("/admin/v1/", methods{}) // everything else: 404 once authenticated
}

// api registers an authenticated admin API path.
func (h *Handler) api(pattern string, ms methods) {
	allow := make([]string, 0, len(ms))
	for m := range ms {
		allow = append(allow, m)
	}
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		id, ok := h.cfg.Token.Check(bearer(r.Header.Get("Authorization")))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bankgate-admin"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "This endpoint needs the admin token: Authorization: Bearer <token>.")
			return
		}
		if len(ms) == 0 {
			writeError(w, http.StatusNotFound, "not_found", "There is no admin endpoint at this path.")
			return
		}
		fn := ms[r.Method]
		if fn == nil {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Use "+strings.Join(allow, " or ")+".")
			return
		}
		by := service.Actor{TokenID: id, Addr: clientAddr(r)}
		status, v, err := fn(r, by)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, status, v)
	})
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(h string) string {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// clientAddr is the client's IP address (the admin listener believes no
// proxy header).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// requestError is a client error found while decoding a request.
type requestError struct {
	status  int
	code    string
	message string
}

func (e *requestError) Error() string { return e.message }

func badRequest(format string) error {
	return &requestError{http.StatusBadRequest, "invalid_request", format}
}

// fail renders err: a client error with its code, anything else as
// internal (or unavailable), its detail logged only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	if errors.As(err, &re) {
		writeError(w, re.status, re.code, re.message)
		return
	}
	msg := bankgate.ErrorMessage(err)
	switch bankgate.ErrorCode(err) {
	case bankgate.NotFound:
		writeError(w, http.StatusNotFound, "not_found", msg)
	case bankgate.ParameterError, bankgate.ParameterMissing, bankgate.BadRequest:
		writeError(w, http.StatusBadRequest, "invalid_request", msg)
	case bankgate.Conflict:
		writeError(w, http.StatusConflict, "conflict", msg)
	case bankgate.NotImplemented:
		writeError(w, http.StatusConflict, "not_applicable", msg)
	default:
		if h.cfg.Unavailable != nil && h.cfg.Unavailable(err) {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "The store is unreachable; try again.")
			return
		}
		h.log.Error("admin request failed", "reqID", requestid.FromContext(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "Something went wrong; the server log has the detail.")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}
