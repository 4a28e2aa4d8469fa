// Package http serves bankgate's Dapi v2 API, the Connect JSON API and the
// operational endpoints over net/http. Every API response is a Dapi
// envelope; handlers return errors and one wrapper renders, logs and
// counts them.
package http

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/internal/negotiate"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

var (
	reflectString = reflect.TypeFor[string]()
	reflectInt    = reflect.TypeFor[int]()
	reflectFloat  = reflect.TypeFor[float64]()
)

// Config configures a Server.
type Config struct {
	Service Service
	Logger  *slog.Logger
	// Unavailable reports whether an error means the store is unreachable;
	// such errors are answered 503 TEMPORARILY_UNAVAILABLE. May be nil.
	Unavailable func(error) bool
	// Metrics, when set, are updated on every request. They are served
	// on the admin listener (package admin), not here.
	Metrics *Metrics
	// Limits are the rate limits; nil means DefaultLimits.
	Limits *Limits
	// RealNow is the real-time clock the rate limits run on (the
	// server's base clock, never a sandbox's virtual clock); nil means
	// time.Now.
	RealNow func() time.Time
	// Pages, when set, serves GET and HEAD requests under /connect (the
	// Connect page, connect.js and their assets).
	Pages http.Handler
	// TrustedProxies are the networks of load balancers whose
	// X-Forwarded-For header is believed when rate limiting by client IP
	// (and logging it).
	TrustedProxies []netip.Prefix
	// NoAccessLog turns off the access log: the line at level info the
	// server writes for every request (see logRequest).
	NoAccessLog bool
	// Tracer, when set, traces every request: a server span named by its
	// route, whose parent is the incoming W3C traceparent (read by
	// Propagator; nil means the W3C Trace Context one). Nil turns tracing
	// off at no cost.
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	// Ready, when set, is asked by /readyz before the service: an error
	// (the server draining at shutdown, the store refusing writes)
	// answers 503. It should be cheap.
	Ready func(context.Context) error
}

// Server is the bankgate HTTP handler.
type Server struct {
	svc         Service
	log         *slog.Logger
	unavailable func(error) bool
	metrics     *Metrics
	limits      *limiters
	pages       http.Handler
	proxies     []netip.Prefix
	isReady     func(context.Context) error
	routes      map[string]*route
	accessLog   bool
	tracer      trace.Tracer // nil when tracing is off
	propagator  propagation.TextMapPropagator
	// xffWarned is set once a request with X-Forwarded-For arrived while
	// no proxy is trusted, so the warning is logged once per process.
	xffWarned atomic.Bool
	bufs      sync.Pool
	states    sync.Pool // of *reqState (see begin, release)
}

// route is one API endpoint.
type route struct {
	name    string // normalised path without /v2, e.g. "/data/accounts/get"
	handler handlerFunc
	// connect marks the Connect layer's routes, which browsers call.
	connect bool
	// forward marks the SDK-forwarding endpoint, never gzipped.
	forward bool
}

// handlerFunc handles one API request and returns the response value (a
// struct embedding envelope) or an error.
type handlerFunc func(ctx context.Context, c *request) (any, error)

// request is one API request as the handlers see it.
type request struct {
	body           []byte
	bearer         string
	idempotencyKey string
	route          *route
	// forwarded marks a call that came through the SDK-forwarding
	// endpoint.
	forwarded bool
	// client keys the client's address (IPv4, or IPv6 /64) for per-IP
	// rate limits.
	client limitKey
	// crossSite is set when a browser said the request comes from another
	// site (Sec-Fetch-Site: cross-site), and origin is its Origin; only
	// read on Connect routes.
	crossSite bool
	origin    string
	// x is the request's state: handlers note there what the access log
	// and the trace report (the app, the operation).
	x *reqState
	// base is the URL the request came in on (scheme and host), on
	// Connect routes: where a redirect bank sends the user back to.
	base string
}

// isJSONContentType reports whether a Content-Type is application/json,
// with or without parameters (Java's OkHttp adds "; charset=utf-8").
func isJSONContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// New returns a Server.
func New(cfg Config) *Server {
	s := &Server{svc: cfg.Service, log: cfg.Logger, unavailable: cfg.Unavailable, metrics: cfg.Metrics, pages: cfg.Pages, proxies: cfg.TrustedProxies, isReady: cfg.Ready, routes: map[string]*route{},
		accessLog: !cfg.NoAccessLog, tracer: cfg.Tracer, propagator: cfg.Propagator}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.propagator == nil {
		s.propagator = propagation.TraceContext{}
	}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	s.states.New = func() any { return new(reqState) }
	lim := DefaultLimits
	if cfg.Limits != nil {
		lim = *cfg.Limits
	}
	s.limits = newLimiters(lim, cfg.RealNow)
	s.registerRoutes()
	return s
}

func (s *Server) handle(path string, h handlerFunc) {
	key := normalizePath(path)
	s.routes[key] = &route{name: key, handler: h}
}

// normalizePath lower-cases a request path or DD action, collapses
// slashes, drops a trailing slash, and strips a leading /v2, so that
// "/v2/users/DelinkUser", "users/delinkuser" and "/USERS/DELINKUSER/" are
// one key.
func normalizePath(p string) string {
	if clean(p) {
		if strings.HasPrefix(p, "/v2/") {
			return p[3:]
		}
		return p
	}
	p = strings.ToLower(p)
	var b strings.Builder
	b.Grow(len(p) + 1)
	prevSlash := false
	b.WriteByte('/')
	prevSlash = true
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' {
			if prevSlash {
				continue
			}
			prevSlash = true
		} else {
			prevSlash = false
		}
		b.WriteByte(c)
	}
	out := b.String()
	if len(out) > 1 && strings.HasSuffix(out, "/") {
		out = out[:len(out)-1]
	}
	if strings.HasPrefix(out, "/v2/") {
		out = out[3:]
	}
	return out
}

// clean reports whether p is already normalised but for a /v2 prefix:
// lower case, a leading slash, no doubled or trailing slash.
func clean(p string) bool {
	if len(p) == 0 || p[0] != '/' || (len(p) > 1 && p[len(p)-1] == '/') {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if 'A' <= c && c <= 'Z' || c >= 0x80 || (c == '/' && p[i-1] == '/') {
			return false
		}
	}
	return true
}

// statusWriter records the status and Dapi type of a response for the log.
type statusWriter struct {
	http.ResponseWriter
	reqID  string // the request's ID, for log lines
	status int
	typ    string
	// storeErr marks a response caused by a store failure (unreachable
	// or internal), for the store error metric.
	storeErr bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Routes returns the paths the server answers, as matched (lower case,
// without the /v2 prefix, which is optional), sorted.
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for p := range s.routes {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// ServeHTTP implements http.Handler. Every response carries the
// request's ID in X-Request-ID; every request is counted, traced when
// tracing is on, and logged in one access log line (see logRequest),
// never with a body, a secret or a query string.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	x := s.begin(w, r)
	sw := &x.sw
	routeName := "unmatched"
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				s.finish(x, r, routeName, start)
				panic(p)
			}
			s.log.Error("panic serving request", "reqID", sw.reqID, "route", routeName, "panic", p)
			if sw.status == 0 {
				s.writeError(sw, bankgate.Errorf(bankgate.Unknown, ""))
			}
		}
		s.finish(x, r, routeName, start)
		s.release(x) // not after a re-raised panic: net/http may still use what it holds
	}()

	if s.pages != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		(r.URL.Path == "/connect" || r.URL.Path == "/connect.js" || strings.HasPrefix(r.URL.Path, "/connect/")) {
		routeName = "connect-page"
		s.pages.ServeHTTP(sw, r.WithContext(x.ctx))
		return
	}
	path := normalizePath(r.URL.Path)
	switch path {
	case "/healthz":
		routeName = "healthz"
		s.health(sw, r)
		return
	case "/readyz":
		routeName = "readyz"
		s.ready(sw, r)
		return
	}
	rt := s.routes[path]
	if rt == nil {
		s.writeError(sw, bankgate.Errorf(bankgate.EndpointNotFound, "There is no endpoint at this path."))
		return
	}
	routeName = rt.name
	if r.Method != http.MethodPost {
		sw.Header().Set("Allow", "POST")
		s.writeError(sw, bankgate.Errorf(bankgate.MethodNotAllowed, "Use POST with a JSON body."))
		return
	}
	// JSON only: a body of another type is what a cross-site form or
	// text/plain "simple request" sends, which needs no CORS preflight.
	if !isJSONContentType(header(r, "Content-Type")) {
		s.writeErrorStatus(sw, http.StatusUnsupportedMediaType,
			bankgate.Errorf(bankgate.ParameterError, "The Content-Type must be application/json."))
		return
	}
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			s.bufs.Put(buf)
		}
	}()
	// A body of a declared length within the bound is read as it is: the
	// server reads no more than that length (one allocation fewer).
	body := r.Body
	if r.ContentLength < 0 || r.ContentLength > MaxBodyBytes {
		body = http.MaxBytesReader(sw, r.Body, MaxBodyBytes)
	}
	if _, err := buf.ReadFrom(body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.writeErrorStatus(sw, http.StatusRequestEntityTooLarge, bankgate.Errorf(bankgate.ParameterError, "The request body is larger than 1 MiB."))
			return
		}
		s.writeError(sw, bankgate.Errorf(bankgate.ParameterError, "The request body could not be read."))
		return
	}
	c := &x.req
	*c = request{body: buf.Bytes(), bearer: parseBearer(header(r, "Authorization")), route: rt, client: clientKey(x.client), x: x}
	if k := header(r, "Idempotency-Key"); k != "" && idempotentRoutes[rt.name] {
		// A key that is not valid is refused before anything runs: were it
		// dropped, a retry would run the payment again.
		if !validIdempotencyKey(k) {
			s.writeError(sw, bankgate.Errorf(bankgate.ParameterError, "The Idempotency-Key header must be 1 to 255 printable ASCII characters."))
			return
		}
		c.idempotencyKey = k
	}
	if rt.connect {
		c.crossSite = header(r, "Sec-Fetch-Site") == "cross-site"
		c.origin = header(r, "Origin")
		c.base = s.baseURL(r)
	}
	v, err := s.dispatch(x.ctx, c)
	if err != nil {
		s.writeError(sw, err)
		return
	}
	// The request whose Accept-Encoding may have a large answer gzipped:
	// never the SDK-forwarding endpoint's (see writeBody).
	gzReq := r
	if rt.forward {
		gzReq = nil
	}
	if rr, ok := v.(*rawResponse); ok {
		h := sw.Header()
		for k, vv := range rr.header {
			h[k] = vv
		}
		sw.typ = rr.typ
		writeBody(sw, gzReq, rr.status, rr.body)
		return
	}
	s.writeJSONFor(sw, gzReq, http.StatusOK, v)
}

// rawResponse is a response rendered ahead of time (an idempotent
// request's recorded answer).
type rawResponse struct {
	status int
	header http.Header
	body   []byte
	typ    string
	opID   string // the operation of the answer rendered, for the log
}

// captureWriter is an in-memory http.ResponseWriter.
type captureWriter struct {
	h    http.Header
	code int
	buf  bytes.Buffer
}

func (c *captureWriter) Header() http.Header         { return c.h }
func (c *captureWriter) Write(b []byte) (int, error) { return c.buf.Write(b) }
func (c *captureWriter) WriteHeader(code int)        { c.code = code }

// capture renders a handler's result exactly as ServeHTTP would (reqID
// names the request in what it logs).
func (s *Server) capture(v any, err error, reqID string) *rawResponse {
	cw := &captureWriter{h: http.Header{}}
	sw := &statusWriter{ResponseWriter: cw, reqID: reqID}
	if err != nil {
		s.writeError(sw, err)
	} else {
		s.writeJSON(sw, http.StatusOK, v)
	}
	rr := &rawResponse{status: sw.status, header: cw.h, body: append([]byte(nil), cw.buf.Bytes()...), typ: sw.typ}
	if o, ok := v.(operationIDer); ok {
		rr.opID = o.operationID()
	}
	return rr
}

// dispatch validates the body as a JSON object and runs the route.
//
// It is also the one place failed checks of high-entropy credentials
// (access token, appSecret, userSecret, access code) are counted per
// client address, on every route: the handler checks the credentials
// first, so a request whose credentials are valid is never refused
// because of others' failures at its address, and one whose credentials
// fail is answered 429 instead of 401 once the address has no failures
// left.
func (s *Server) dispatch(ctx context.Context, c *request) (any, error) {
	// Handlers decode (and so fully validate) the body; this only turns
	// away what is not a JSON object at all.
	body := bytes.TrimLeft(c.body, " \t\r\n")
	if len(body) == 0 || body[0] != '{' {
		return nil, bankgate.Errorf(bankgate.ParameterError, "The request body must be a JSON object.")
	}
	v, err := c.route.handler(ctx, c)
	if err != nil && guessing(failure(err)) {
		return nil, s.refuseFailure(s.limits.authFailIP, c.client, err)
	}
	if e, ok := v.(operationIDer); ok && c.x != nil {
		if id := e.operationID(); id != "" {
			c.x.opID = id
		}
	}
	return v, err
}

func (s *Server) writeJSON(w *statusWriter, status int, v any) { s.writeJSONFor(w, nil, status, v) }

// writeJSONFor renders v, gzipped if it is large and r accepts gzip (r
// may be nil: never).
func (s *Server) writeJSONFor(w *statusWriter, r *http.Request, status int, v any) {
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	var err error
	if a, ok := v.(jsonAppender); !ok {
		err = encodeJSON(buf, v)
	} else if b, ok := a.appendJSON(buf.AvailableBuffer()); ok {
		buf.Write(b)
	} else {
		err = encodeJSON(buf, v)
	}
	if err != nil {
		s.log.Error("encode response", "reqID", w.reqID, "err", err)
		buf.Reset()
		buf.WriteString(`{"success":false,"status":"failed","operationID":"","type":"UNKNOWN_ERROR","msg":"Oops! Something happened while performing the request."}` + "\n")
		status = http.StatusInternalServerError
		w.typ = string(bankgate.Unknown)
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = noSniff
	writeBody(w, r, status, buf.Bytes())
	if buf.Cap() <= 64<<10 {
		s.bufs.Put(buf)
	}
}

// GzipMinBytes is the smallest response body gzipped for a client that
// accepts it: below it compression saves less than it costs.
const GzipMinBytes = 1024

var (
	gzipWriters        = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}
	varyAcceptEncoding = []string{"Accept-Encoding"}
	gzipEncoding       = []string{"gzip"}
)

// writeBody writes a rendered body, gzipped when it is larger than
// GzipMinBytes and r (nil: none) accepts gzip. A smaller body goes out as
// it is, with nothing more done than a length check.
//
// The SDK-forwarding endpoint is never gzipped: Dapi's SDK forwarders
// copy the client's headers, Accept-Encoding included, into their request
// (so Go's and OkHttp's transparent decompression stays off) and hand the
// body back without Content-Encoding.
func writeBody(w *statusWriter, r *http.Request, status int, body []byte) {
	if len(body) < GzipMinBytes || r == nil {
		w.WriteHeader(status)
		w.Write(body)
		return
	}
	h := w.Header()
	h["Vary"] = varyAcceptEncoding
	if !negotiate.Gzip(r.Header["Accept-Encoding"]) {
		w.WriteHeader(status)
		w.Write(body)
		return
	}
	h["Content-Encoding"] = gzipEncoding
	delete(h, "Content-Length")
	w.WriteHeader(status)
	gz := gzipWriters.Get().(*gzip.Writer)
	gz.Reset(w)
	gz.Write(body)
	gz.Close()
	gz.Reset(io.Discard)
	gzipWriters.Put(gz)
}

// encodeJSON writes v as JSON to buf, HTML characters not escaped.
func encodeJSON(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
	noSniff         = []string{"nosniff"}
)

func (s *Server) writeError(w *statusWriter, err error) {
	if s.unavailable != nil && s.unavailable(err) {
		w.storeErr = true
		// A refused write (a full disk) is logged once by the owner of
		// Unavailable, not on every request.
		if !errors.Is(err, bankgate.ErrWriteRefused) {
			s.log.Warn("store unavailable", "reqID", w.reqID, "err", err)
		}
		s.writeErrorStatus(w, http.StatusServiceUnavailable, bankgate.Errorf(bankgate.TemporarilyUnavailable, "The service is temporarily unavailable; try again shortly."))
		return
	}
	status, typ, _ := wireError(err)
	if typ == bankgate.Unknown {
		w.storeErr = true
		s.log.Error("internal error", "reqID", w.reqID, "err", err)
	}
	s.writeErrorStatus(w, status, err)
}

func (s *Server) writeErrorStatus(w *statusWriter, status int, err error) {
	st, typ, msg := wireError(err)
	if st == http.StatusInternalServerError {
		status = st
	}
	if typ == bankgate.RateLimited {
		after := "1"
		var re *retryError
		if errors.As(err, &re) {
			after = retryAfter(re.after)
		}
		w.Header().Set("Retry-After", after)
	}
	w.typ = string(typ)
	env := envelope{Success: false, Status: bankgate.StatusFailed, Type: string(typ), Msg: msg}
	var be *bankgate.Error
	if errors.As(err, &be) && len(be.Data) > 0 && typ != bankgate.Unknown {
		m := map[string]any{"success": false, "status": bankgate.StatusFailed, "operationID": "", "type": string(typ), "msg": msg}
		for k, v := range be.Data {
			if _, taken := m[k]; !taken {
				m[k] = v
			}
		}
		s.writeJSON(w, status, m)
		return
	}
	s.writeJSON(w, status, env)
}

func (s *Server) health(w *statusWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"ok"}`+"\n")
}

func (s *Server) ready(w *statusWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	var err error
	if s.isReady != nil {
		// Its owner logs when the condition starts and ends; a load
		// balancer's every probe is not news.
		if err = s.isReady(ctx); err != nil {
			s.log.Debug("not ready", "reqID", w.reqID, "err", err)
		}
	}
	if err == nil {
		if err = s.svc.Ready(ctx); err != nil {
			s.log.Warn("not ready", "reqID", w.reqID, "err", err)
		}
	}
	if err != nil {
		w.typ, w.storeErr = string(bankgate.TemporarilyUnavailable), true
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"status":"unavailable"}`+"\n")
		return
	}
	io.WriteString(w, `{"status":"ready"}`+"\n")
}

// decode unmarshals the body into v, mapping wrong types to
// PARAMETER_ERROR with the offending field named.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "body"
			}
			return bankgate.Errorf(bankgate.ParameterError, "The field %q has the wrong type.", truncate(field, 64))
		}
		return bankgate.Errorf(bankgate.ParameterError, "The request body must be a JSON object.")
	}
	return nil
}

// header returns the first value of the request header with the
// canonical name key (net/http canonicalizes the names it reads), without
// Header.Get's canonicalizing of key on every call.
func header(r *http.Request, key string) string {
	if v := r.Header[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// missing returns PARAMETER_MISSING naming the first empty field.
func missing(fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			return bankgate.Errorf(bankgate.ParameterMissing, "The field %q is required.", fields[i])
		}
	}
	return nil
}

// baseURL is the scheme and host the request came in on: https over
// TLS, or as a trusted proxy says (X-Forwarded-Proto).
func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil && len(s.proxies) > 0 && s.trusted(host) &&
		header(r, "X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// clientIP is the request's client address: the peer's, or, when the
// peer is a trusted proxy, the right-most X-Forwarded-For entry that is
// not a trusted proxy itself.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.proxies) == 0 {
		if _, ok := r.Header["X-Forwarded-For"]; ok && !s.xffWarned.Load() && s.xffWarned.CompareAndSwap(false, true) {
			s.log.Warn("a request came with X-Forwarded-For but --trusted-proxies is empty: per-IP rate limits key on the peer address (the proxy's, if there is one); set --trusted-proxies to the proxies' CIDRs", "peer", host)
		}
		return host
	}
	if !s.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		if _, err := netip.ParseAddr(h); err != nil {
			return host // a malformed header is not believed
		}
		if !s.trusted(h) {
			return h
		}
	}
	return host
}

func (s *Server) trusted(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseBearer extracts the token from an Authorization header value. It
// returns "" when there is none.
func parseBearer(h string) string {
	h = strings.TrimSpace(h)
	if len(h) >= 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
