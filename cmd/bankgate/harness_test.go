package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/sqlite/sqlitetest"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeClock is an injected clock tests move forward.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testServer is a real bankgate server started on 127.0.0.1:0.
type testServer struct {
	t   *testing.T
	URL string
	// AdminURL is the admin listener's (admin API, console, /metrics).
	AdminURL string
	DataDir  string
	Stdout   *syncBuffer
	Stderr   *syncBuffer
	Clock    *fakeClock
	stop     func()
}

type serverOpts struct {
	dataDir string
	clock   *fakeClock
	args    []string
	env     map[string]string
	// realClock runs the server on the real clock (Clock is then nil),
	// so its caches expire as in production.
	realClock bool
	// spans, when set, turns tracing on and receives the server's spans.
	spans sdktrace.SpanExporter
	// wrapStore and probeEvery are serveHooks' WrapStore and ProbeEvery.
	wrapStore  func(bankgate.Store) bankgate.Store
	probeEvery time.Duration
}

// startServer runs `bankgate serve` in-process, exactly as main does, and
// waits until it accepts connections. It stops the server at test end.
func startServer(t *testing.T, o serverOpts) *testServer {
	t.Helper()
	parallelUnderShort(t)
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
		if !usesPostgres(o) {
			// A copy of a migrated empty store: cheaper than creating
			// the schema (about a third of a short server test's CPU).
			sqlitetest.WriteMigrated(t, filepath.Join(o.dataDir, "bankgate.db"))
		}
	}
	if o.clock == nil && !o.realClock {
		o.clock = newFakeClock()
	}
	var now func() time.Time
	if o.clock != nil {
		now = o.clock.Now
	}
	ts := &testServer{t: t, DataDir: o.dataDir, Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Clock: o.clock}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	args := append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--data-dir", o.dataDir, "--log-level", "debug"}, o.args...)
	env := func(k string) string { return o.env[k] }
	go func() {
		done <- cmdServe(ctx, args, env, ts.Stdout, ts.Stderr, &serveHooks{Ready: func(a string) { ready <- a }, Now: now, AdminReady: func(a string) { ts.AdminURL = "http://" + a }, Spans: o.spans,
			WrapStore: o.wrapStore, ProbeEvery: o.probeEvery})
	}()
	select {
	case addr := <-ready:
		ts.URL = "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("server exited before ready: %v\nstderr:\n%s", err, ts.Stderr.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server not ready after 10s")
	}
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			// Connections the client dialled but never used (a burst of
			// concurrent requests leaves some in its pool) hold up
			// http.Server.Shutdown for 5 s: it waits that long before it
			// takes a connection without a first request for idle.
			http.DefaultClient.CloseIdleConnections()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server exit: %v", err)
			}
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// usesPostgres reports whether a server runs on PostgreSQL.
func usesPostgres(o serverOpts) bool {
	if o.env["BANKGATE_DATABASE_URL"] != "" {
		return true
	}
	for _, a := range o.args {
		if strings.HasPrefix(strings.TrimLeft(a, "-"), "database-url") {
			return true
		}
	}
	return false
}

// parallelTests are the tests parallelUnderShort made parallel.
var parallelTests sync.Map

// parallelUnderShort lets a top-level test that runs servers run beside
// others under -short: each has its own data directory, clock and port,
// and most of a server test's time is spent waiting (on fsync, on the
// network), so two at a time take half as long. Without -short (CI, with
// the race detector and the timing-bound tests) tests run one at a time.
func parallelUnderShort(t *testing.T) {
	if !testing.Short() || strings.Contains(t.Name(), "/") {
		return
	}
	if _, seen := parallelTests.LoadOrStore(t, true); !seen {
		t.Parallel()
	}
}

// skipSlow skips a slow end-to-end test (a crash, an outage, a partition,
// several processes) under -short: `go test -short ./...` is the fast
// inner loop, and CI runs everything.
func skipSlow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow end-to-end test: runs without -short (as CI does)")
	}
}

// Stop shuts the server down gracefully and waits for it.
func (ts *testServer) Stop() { ts.stop() }

// resp is a decoded API response.
type resp struct {
	Status int
	Body   map[string]any
	Raw    string
	Header http.Header
}

func (r *resp) str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

// post sends body (a value to marshal, or a string sent as is) to path.
func (ts *testServer) post(path string, token string, body any) *resp {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(ts.t, req)
}

func do(t *testing.T, req *http.Request) *resp {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := &resp{Status: res.StatusCode, Raw: string(raw), Header: res.Header}
	if err := json.Unmarshal(raw, &r.Body); err != nil {
		t.Fatalf("%s %s: response is not a JSON object (status %d): %q", req.Method, req.URL.Path, res.StatusCode, raw)
	}
	return r
}

// wantOK fails unless r is a done success envelope.
func wantOK(t *testing.T, r *resp) {
	t.Helper()
	if r.Status != http.StatusOK || r.Body["success"] != true || r.Body["status"] != "done" {
		t.Fatalf("want success, got %d %s", r.Status, r.Raw)
	}
	checkEnvelope(t, r)
}

// wantFail fails unless r is a failed envelope with the given status and type.
func wantFail(t *testing.T, r *resp, status int, typ string) {
	t.Helper()
	if r.Status != status || r.Body["success"] != false || r.Body["status"] != "failed" || r.Body["type"] != typ {
		t.Fatalf("want %d %s, got %d %s", status, typ, r.Status, r.Raw)
	}
	if msg, _ := r.Body["msg"].(string); msg == "" {
		t.Fatalf("failed envelope without msg: %s", r.Raw)
	}
	checkEnvelope(t, r)
}

// checkEnvelope asserts the rules every envelope follows.
func checkEnvelope(t *testing.T, r *resp) {
	t.Helper()
	if _, ok := r.Body["success"].(bool); !ok {
		t.Fatalf("success is not a boolean: %s", r.Raw)
	}
	switch r.Body["status"] {
	case "done", "failed", "user_input_required", "initialized":
	default:
		t.Fatalf("bad status: %s", r.Raw)
	}
	if _, ok := r.Body["operationID"].(string); !ok {
		t.Fatalf("operationID missing: %s", r.Raw)
	}
	if strings.Contains(r.Raw, "null") {
		t.Fatalf("null in response: %s", r.Raw)
	}
}

// newApp registers an app through the CLI on the server's data dir, as an
// operator would while the server runs.
func (ts *testServer) newApp(name string) (key, sec string) {
	ts.t.Helper()
	return ts.newAppIn(name, "sandbox")
}

// newAppIn creates an app in the given environment.
func (ts *testServer) newAppIn(name, environment string) (key, sec string) {
	ts.t.Helper()
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"apps", "create", "--name", name, "--environment", environment, "--json", "--data-dir", ts.DataDir}, func(string) string { return "" }, &out, &errb); err != nil {
		ts.t.Fatalf("apps create: %v\n%s", err, errb.String())
	}
	var v map[string]string
	dec := json.NewDecoder(strings.NewReader(out.String()))
	if err := dec.Decode(&v); err != nil {
		ts.t.Fatalf("apps create --json output %q: %v", out.String(), err)
	}
	if dec.More() {
		ts.t.Fatalf("apps create --json printed more than one JSON value: %q", out.String())
	}
	if v["name"] != name || v["appKey"] == "" || v["appSecret"] == "" || v["environment"] != environment || len(v) != 4 {
		ts.t.Fatalf("apps create --json = %v", v)
	}
	return v["appKey"], v["appSecret"]
}

// user is a connected sandbox user.
type user struct {
	AccessCode, UserSecret, ConnectionID, UserID, TokenID string
	Token                                                 string
}

const sandboxBank = "SANDBOX_AE_ENBD"

// login logs username in at the sandbox bank without MFA.
func (ts *testServer) login(appKey, username string) *user {
	ts.t.Helper()
	r := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": username, "password": "pass_good"})
	wantOK(ts.t, r)
	return connected(ts.t, r)
}

func connected(t *testing.T, r *resp) *user {
	t.Helper()
	u := &user{AccessCode: r.str("accessCode"), UserSecret: r.str("userSecret"), ConnectionID: r.str("connectionID"), UserID: r.str("userID"), TokenID: r.str("tokenID")}
	if u.AccessCode == "" || u.UserSecret == "" || u.ConnectionID == "" || u.UserID == "" || u.TokenID == "" {
		t.Fatalf("login response lacks connection fields: %s", r.Raw)
	}
	return u
}

// exchange trades the user's access code for a token.
func (ts *testServer) exchange(appSecret string, u *user) {
	ts.t.Helper()
	r := ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID})
	wantOK(ts.t, r)
	u.Token = r.str("accessToken")
	if u.Token == "" || r.str("tokenID") != u.TokenID || r.str("userID") != u.UserID {
		ts.t.Fatalf("exchange response %s does not match login tokenID %s userID %s", r.Raw, u.TokenID, u.UserID)
	}
}

func (ts *testServer) data(path, appSecret string, u *user, extra map[string]any) *resp {
	ts.t.Helper()
	body := map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret}
	for k, v := range extra {
		body[k] = v
	}
	return ts.post(path, u.Token, body)
}

func jsonUnmarshalString(s string, v any) error { return json.Unmarshal([]byte(s), v) }
