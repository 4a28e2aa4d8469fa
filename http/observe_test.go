package http

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/requestid"
)

// TestRequestID: every response, of every kind, carries X-Request-ID: the
// client's when it is sane, else a new one; the handlers (and the Connect
// pages) see it in their context.
func TestRequestID(t *testing.T) {
	var pageID string
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pageID = requestid.FromContext(r.Context())
		io.WriteString(w, "page")
	})
	srv := New(Config{Service: newFake(), Limits: &Limits{}, Pages: pages})
	send := func(method, path, body, id string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+bearerToken)
		if id != "" {
			r.Header.Set("X-Request-ID", id)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w
	}
	kinds := []struct{ name, method, path, body string }{
		{"a success", "POST", "/v2/data/balance/get", user(`"accountID":"acc-1"`)},
		{"an API error", "POST", "/v2/data/balance/get", `{"appSecret":""}`},
		{"an unknown path", "POST", "/v2/nothing", `{}`},
		{"a wrong method", "GET", "/v2/data/balance/get", ``},
		{"healthz", "GET", "/healthz", ``},
		{"readyz", "GET", "/readyz", ``},
		{"the Connect page", "GET", "/connect", ``},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			const sent = "3f2c9a1e-5b7d-4c1e-9f00-0123456789ab"
			if got := send(k.method, k.path, k.body, sent).Header().Get("X-Request-ID"); got != sent {
				t.Errorf("sent %q, answered %q", sent, got)
			}
			a := send(k.method, k.path, k.body, "").Header().Get("X-Request-ID")
			b := send(k.method, k.path, k.body, "").Header().Get("X-Request-ID")
			if len(a) != requestid.Size || !requestid.Valid(a) || a == b {
				t.Errorf("generated IDs %q and %q: want two distinct %d-character IDs", a, b, requestid.Size)
			}
			for _, bad := range []string{strings.Repeat("x", requestid.MaxLen+1), "two words", "<script>", "a\"b"} {
				if got := send(k.method, k.path, k.body, bad).Header().Get("X-Request-ID"); got == bad || len(got) != requestid.Size {
					t.Errorf("sent %q, answered %q: want a new ID", bad, got)
				}
			}
		})
	}
	w := send("GET", "/connect", "", "page-req-1")
	if pageID != "page-req-1" || w.Body.String() != "page" {
		t.Errorf("the Connect page saw request ID %q (body %q)", pageID, w.Body)
	}
}

// accessLines returns the access log lines in a JSON log.
func accessLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// TestAccessLog: one line per request with the request ID, the client's
// address after trusted proxies, the app key's prefix, route, status, Dapi
// error type, operationID and a duration in milliseconds; never a secret
// or a body; none when the access log is off.
func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	f := newFake()
	proxies := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	srv := New(Config{Service: f, Limits: &Limits{}, TrustedProxies: proxies, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	const appSecret, userSecret = "bgas_secretAPPsecret", "bgus_secretUSERsecret"
	body := `{"appSecret":"` + appSecret + `","userSecret":"` + userSecret + `","accountID":"acc-1"}`
	send := func(body, id string) {
		r := httptest.NewRequest("POST", "/v2/data/balance/get", strings.NewReader(body)) // from 192.0.2.1, a trusted proxy
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+bearerToken)
		r.Header.Set("X-Forwarded-For", "203.0.113.7")
		r.Header.Set("X-Request-ID", id)
		srv.ServeHTTP(httptest.NewRecorder(), r)
	}
	send(body, "req-ok")
	pay := httptest.NewRequest("POST", "/v2/payment/transfer/create", strings.NewReader(user(`"senderID":"acc-1","amount":10,"receiverID":"ben-1"`)))
	pay.Header.Set("Content-Type", "application/json")
	pay.Header.Set("Authorization", "Bearer "+bearerToken)
	pay.Header.Set("Idempotency-Key", "pay-1")
	pay.Header.Set("X-Request-ID", "req-pay")
	srv.ServeHTTP(httptest.NewRecorder(), pay)
	f.errs["Authenticate"] = bankgate.Errorf(bankgate.InvalidUserSecret, "no")
	send(body, "req-fail")
	send(`{"appSecret":"x"}`+strings.Repeat(" ", 10), "req-bad")

	lines := accessLines(t, buf.String())
	if len(lines) != 4 {
		t.Fatalf("%d access log lines, want 4:\n%s", len(lines), buf.String())
	}
	// An idempotent payment's answer is recorded, then sent: its
	// operation is logged all the same.
	if p := lines[1]; p["reqID"] != "req-pay" || p["operationID"] != "op-1" || p["route"] != "/payment/transfer/create" {
		t.Errorf("payment line: %v", p)
	}
	lines = append(lines[:1], lines[2:]...)
	ok := lines[0]
	for k, v := range map[string]any{"level": "INFO", "reqID": "req-ok", "method": "POST", "route": "/data/balance/get", "status": 200.0, "type": "",
		"client": "203.0.113.7", "appKey": fakeAppKey[:8], "operationID": "op-1"} {
		if ok[k] != v {
			t.Errorf("success line: %s = %#v, want %#v", k, ok[k], v)
		}
	}
	if d, isNum := ok["dur_ms"].(float64); !isNum || d < 0 || d > 10_000 {
		t.Errorf("dur_ms = %#v, want milliseconds as a number", ok["dur_ms"])
	}
	if _, has := ok["dur"]; has {
		t.Error("the line still has dur (nanoseconds)")
	}
	fail := lines[1]
	if fail["reqID"] != "req-fail" || fail["status"] != 401.0 || fail["type"] != string(bankgate.InvalidUserSecret) || fail["client"] != "203.0.113.7" {
		t.Errorf("failure line: %v", fail)
	}
	if _, has := fail["appKey"]; has {
		t.Errorf("an unauthenticated request logged an app: %v", fail)
	}
	if lines[2]["reqID"] != "req-bad" {
		t.Errorf("bad request line: %v", lines[2])
	}
	for _, s := range []string{appSecret, userSecret, bearerToken, "acc-1", fakeAppKey} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("the log holds %q:\n%s", s, buf.String())
		}
	}

	buf.Reset()
	srv = New(Config{Service: newFake(), Limits: &Limits{}, TrustedProxies: proxies, NoAccessLog: true, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	send(body, "req-quiet")
	if buf.Len() != 0 {
		t.Errorf("NoAccessLog still logged: %s", buf.String())
	}
}

// recSpan is a span that records what the server tells it.
type recSpan struct {
	noop.Span
	sc     trace.SpanContext
	parent trace.SpanContext
	name   string
	kind   trace.SpanKind
	attrs  []attribute.KeyValue
	ended  bool
}

func (s *recSpan) SpanContext() trace.SpanContext                { return s.sc }
func (s *recSpan) IsRecording() bool                             { return !s.ended }
func (s *recSpan) SetName(n string)                              { s.name = n }
func (s *recSpan) SetAttributes(kv ...attribute.KeyValue)        { s.attrs = append(s.attrs, kv...) }
func (s *recSpan) End(...trace.SpanEndOption)                    { s.ended = true }
func (s *recSpan) SetStatus(code codes.Code, description string) {}

// recTracer makes recSpans: a tracer of the OpenTelemetry API alone, so
// that the http tests need not link the SDK.
type recTracer struct {
	noop.Tracer
	spans []*recSpan
}

func (t *recTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	parent := trace.SpanContextFromContext(ctx)
	var sid trace.SpanID
	sid[7] = byte(len(t.spans) + 1)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: parent.TraceID(), SpanID: sid, TraceFlags: parent.TraceFlags()})
	sp := &recSpan{sc: sc, parent: parent, name: name, kind: cfg.SpanKind(), attrs: cfg.Attributes()}
	t.spans = append(t.spans, sp)
	return trace.ContextWithSpan(ctx, sp), sp
}

// TestServerSpan: with a tracer, a request is a server span named by its
// route, the child of the incoming traceparent, with its status, request
// ID, operation and Dapi error type; the handlers' context carries it.
func TestServerSpan(t *testing.T) {
	tr := &recTracer{}
	f := newFake()
	srv := New(Config{Service: f, Limits: &Limits{}, Tracer: tr})
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	send := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v2/data/balance/get", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+bearerToken)
		r.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w
	}
	w := send(user(`"accountID":"acc-1"`))
	if ctx := f.lastCtx; ctx == nil || trace.SpanContextFromContext(ctx).TraceID().String() != traceID || requestid.FromContext(ctx) != w.Header().Get("X-Request-ID") {
		t.Error("the service's context carries no span or not the request's ID")
	}
	f.errs["Authenticate"] = bankgate.Errorf(bankgate.InvalidUserSecret, "no")
	send(user(`"accountID":"acc-1"`))
	for _, probe := range []string{"/healthz", "/readyz"} {
		srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", probe, nil))
	}

	if len(tr.spans) != 2 {
		t.Fatalf("%d spans, want 2 (and none for the probes)", len(tr.spans))
	}
	for i, sp := range tr.spans {
		if sp.name != "POST /data/balance/get" || sp.kind != trace.SpanKindServer || !sp.ended {
			t.Errorf("span %d: %q kind %v ended %v", i, sp.name, sp.kind, sp.ended)
		}
		if sp.parent.TraceID().String() != traceID || sp.parent.SpanID().String() != parentID || !sp.parent.IsRemote() {
			t.Errorf("span %d: parent %v: want the incoming traceparent", i, sp.parent)
		}
	}
	want := []attribute.KeyValue{
		attribute.String("http.route", "/data/balance/get"), attribute.Int("http.response.status_code", 200),
		attribute.String("bankgate.request_id", w.Header().Get("X-Request-ID")), attribute.String("bankgate.operation_id", "op-1"),
		attribute.String("bankgate.app_key_prefix", fakeAppKey[:8]),
	}
	for _, a := range want {
		if !hasAttr(tr.spans[0].attrs, a) {
			t.Errorf("success span lacks %v: %v", a, tr.spans[0].attrs)
		}
	}
	for _, a := range []attribute.KeyValue{attribute.Int("http.response.status_code", 401), attribute.String("dapi.error.type", string(bankgate.InvalidUserSecret))} {
		if !hasAttr(tr.spans[1].attrs, a) {
			t.Errorf("failure span lacks %v: %v", a, tr.spans[1].attrs)
		}
	}
}

func hasAttr(attrs []attribute.KeyValue, want attribute.KeyValue) bool {
	for _, a := range attrs {
		if a == want {
			return true
		}
	}
	return false
}

// TestRequestStateReuse: the server reuses its per-request state once a
// request is answered, but nothing it handed out may change with it: the
// handlers' context (a store driver may watch it from a goroutine that
// outlives the call), the request ID in it and in the response header,
// and the span's request ID.
func TestRequestStateReuse(t *testing.T) {
	tr := &recTracer{}
	f := newFake()
	srv := New(Config{Service: f, Limits: &Limits{}, Tracer: tr})
	type seen struct {
		ctx    context.Context
		id     string
		header http.Header
	}
	var reqs []seen
	for range 50 {
		r := httptest.NewRequest("POST", "/v2/data/balance/get", strings.NewReader(user(`"accountID":"acc-1"`)))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+bearerToken)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		reqs = append(reqs, seen{f.lastCtx, w.Header().Get("X-Request-ID"), w.Header()})
	}
	ids := map[string]bool{}
	for i, s := range reqs {
		if s.id == "" || ids[s.id] {
			t.Fatalf("request %d: ID %q empty or repeated", i, s.id)
		}
		ids[s.id] = true
		if got := requestid.FromContext(s.ctx); got != s.id {
			t.Errorf("request %d: its context now names %q, its response %q", i, got, s.id)
		}
		_, _ = s.ctx.Done(), s.ctx.Err() // what a driver's goroutine does late: must not panic
		if got := s.header.Get("X-Request-ID"); got != s.id {
			t.Errorf("request %d: its header changed to %q", i, got)
		}
		if !hasAttr(tr.spans[i].attrs, attribute.String("bankgate.request_id", s.id)) {
			t.Errorf("request %d: span attributes %v lack its ID %q", i, tr.spans[i].attrs, s.id)
		}
	}
}
