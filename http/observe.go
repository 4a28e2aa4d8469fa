package http

// What the server tells about each request: its ID (X-Request-ID), its
// access log line and, when tracing is on, its server span.

import (
	"context"
	"log/slog"
	"net/http"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/bankgate/bankgate/requestid"
)

// requestIDKey is requestid.Header in the canonical form net/http keeps
// header keys in.
const requestIDKey = "X-Request-Id"

// reqState is one request being served: its response writer and API
// request, its ID, and what the access log and the trace report of it.
// ServeHTTP takes it from the Server's pool and puts it back, zeroed,
// once the request is answered, counted and logged (about 0.3 KB a
// request less for the collector): nothing may keep a pointer into it
// past that, so the request ID it names is allocated on its own (net/http
// writes the response's headers after ServeHTTP returns), and so is the
// handlers' context (a store driver may watch it from a goroutine that
// outlives the call: modernc's SQLite does).
type reqState struct {
	sw  statusWriter
	req request
	// ctx is the handlers' context: the request's (with its server span
	// when tracing is on) carrying the request ID.
	ctx *requestid.Context
	// client is the client's address, after trusted proxies.
	client string
	// appKey is the app's public key, once a handler knows the app;
	// opID the operation the request started or resumed.
	appKey, opID string
	span         trace.Span // nil when tracing is off
}

// newID is a request ID made here, the X-Request-ID header value holding
// it and the request's context naming it, in one allocation.
type newID struct {
	ctx requestid.Context
	hdr [1]string
	buf [requestid.Size]byte
}

// begin starts serving r: it takes the request's ID (the client's
// X-Request-ID when sane, else a new one), sets it on the response, finds
// the client's address and, when tracing is on, starts the server span.
func (s *Server) begin(w http.ResponseWriter, r *http.Request) *reqState {
	x := s.states.Get().(*reqState)
	x.sw.ResponseWriter = w
	var id string
	var n *newID
	if v := r.Header[requestIDKey]; len(v) > 0 && requestid.Valid(v[0]) {
		id = v[0]
		w.Header()[requestIDKey] = v[:1:1]
	} else {
		n = new(newID)
		requestid.Fill(&n.buf)
		id = unsafe.String(&n.buf[0], len(n.buf))
		n.hdr[0] = id
		w.Header()[requestIDKey] = n.hdr[:]
	}
	x.sw.reqID = id
	x.client = s.clientIP(r)
	ctx := r.Context()
	// Probes (a load balancer's, every few seconds) are not traced.
	if s.tracer != nil && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
		ctx = s.startSpan(ctx, x, r)
	}
	if n != nil {
		n.ctx = requestid.Context{Context: ctx, ID: id}
		x.ctx = &n.ctx
	} else {
		x.ctx = &requestid.Context{Context: ctx, ID: id}
	}
	return x
}

// release puts x back in the pool, zeroed, once its request is done.
func (s *Server) release(x *reqState) {
	*x = reqState{}
	s.states.Put(x)
}

// finish counts, traces and logs a request that was answered.
func (s *Server) finish(x *reqState, r *http.Request, route string, start time.Time) {
	dur := time.Since(start)
	s.metrics.observe(route, x.sw.storeErr, x.sw.typ, dur)
	if x.span != nil {
		s.endSpan(x, r, route)
	}
	if s.accessLog {
		s.logRequest(x, r, route, dur)
	}
}

// appKeyPrefix is how much of an app's key the access log shows: enough
// to tell apps apart, and an appKey is not secret anyway.
const appKeyPrefix = 8

// logRequest writes the request's access log line, at level info:
//
//	reqID        the request ID (also in X-Request-ID)
//	method       the HTTP method
//	route        the matched route ("/data/balance/get", "connect-page",
//	             "healthz", "readyz", or "unmatched")
//	status       the HTTP status
//	type         the Dapi error type ("" on success)
//	dur_ms       the time to answer, in milliseconds (µs precision)
//	client       the client's address (after --trusted-proxies)
//	appKey       the first 8 characters of the app's key, once known
//	operationID  the operation the call started or resumed, if any
//	traceID      the trace's ID, when tracing is on
//
// Never a body, a header value other than the request ID, a secret, a
// token or a query string.
func (s *Server) logRequest(x *reqState, r *http.Request, route string, dur time.Duration) {
	ctx := context.Background()
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	var attrs [11]slog.Attr
	attrs[0] = slog.String("reqID", x.sw.reqID)
	attrs[1] = slog.String("method", r.Method)
	attrs[2] = slog.String("route", route)
	attrs[3] = slog.Int("status", x.sw.status)
	attrs[4] = slog.String("type", x.sw.typ)
	attrs[5] = slog.Float64("dur_ms", float64(dur.Microseconds())/1000)
	attrs[6] = slog.String("client", x.client)
	n := 7
	if k := x.appKey; k != "" {
		attrs[n] = slog.String("appKey", k[:min(len(k), appKeyPrefix)])
		n++
	}
	if x.opID != "" {
		attrs[n] = slog.String("operationID", x.opID)
		n++
	}
	if x.span != nil {
		if sc := x.span.SpanContext(); sc.HasTraceID() {
			attrs[n] = slog.String("traceID", sc.TraceID().String())
			n++
		}
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "request", attrs[:n]...)
}

// Span attribute keys beyond OpenTelemetry's semantic conventions.
const (
	attrRequestID   = attribute.Key("bankgate.request_id")
	attrOperationID = attribute.Key("bankgate.operation_id")
	attrAppKey      = attribute.Key("bankgate.app_key_prefix")
	attrErrorType   = attribute.Key("dapi.error.type")
)

// startSpan starts the request's server span, a child of the incoming
// traceparent if there is one, and returns the context carrying it. The
// span is named by the method until the route is known (endSpan).
func (s *Server) startSpan(ctx context.Context, x *reqState, r *http.Request) context.Context {
	ctx = s.propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
	ctx, x.span = s.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("client.address", x.client),
			attrRequestID.String(x.sw.reqID),
		))
	return ctx
}

// endSpan names the server span by its route ("POST /data/balance/get"),
// records the outcome and ends it. A 5xx answer is an error.
func (s *Server) endSpan(x *reqState, r *http.Request, route string) {
	sp := x.span
	sp.SetName(r.Method + " " + route)
	sp.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", x.sw.status))
	if x.sw.typ != "" {
		sp.SetAttributes(attrErrorType.String(x.sw.typ))
	}
	if x.opID != "" {
		sp.SetAttributes(attrOperationID.String(x.opID))
	}
	if x.appKey != "" {
		sp.SetAttributes(attrAppKey.String(x.appKey[:min(len(x.appKey), appKeyPrefix)]))
	}
	if x.sw.status >= 500 {
		sp.SetAttributes(attribute.String("error.type", x.sw.typ))
		sp.SetStatus(codes.Error, x.sw.typ)
	}
	sp.End()
}

// operationIDer is a response that names an operation (one embedding
// envelope).
type operationIDer interface{ operationID() string }

func (e *envelope) operationID() string { return e.OperationID }

func (r *rawResponse) operationID() string { return r.opID }

// noteApp records the app a request is for, for the access log and the
// trace.
func (c *request) noteApp(appKey string) {
	if c.x != nil {
		c.x.appKey = appKey
	}
}
