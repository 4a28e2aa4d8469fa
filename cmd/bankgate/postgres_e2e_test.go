package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bankgate/bankgate/internal/shorttest"
	"github.com/bankgate/bankgate/postgres/pgtest"
)

// The PostgreSQL tests of the command. They run when
// BANKGATE_TEST_DATABASE_URL names a database the tests may create schemas
// in (CI sets it); each test works in a schema of its own, dropped at the
// end.

// execMainEnv, when "1" in a process's environment, makes the test binary
// run bankgate's main with its arguments instead of the tests: that is how
// TestPostgresTwoProcesses starts real bankgate processes.
const execMainEnv = "BANKGATE_TEST_EXEC_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(execMainEnv) == "1" {
		// os.Args is ["<test binary>", "serve", ...]: exactly what main
		// reads. main exits non-zero itself on failure.
		main()
		os.Exit(0)
	}
	flag.Parse()
	// Server tests wait more than they compute: four at a time keep two
	// cores busier than two (the package: 3.6 s at 2, 2.9 s at 4).
	shorttest.Parallel(4)
	os.Exit(m.Run())
}

// pgSchemaURL is the shared PostgreSQL test helper.
func pgSchemaURL(t *testing.T) string { t.Helper(); return pgtest.SchemaURL(t) }

// newKeyArg returns a fresh server key as a --secret-key-file value.
func newKeyArg() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "hex:" + hex.EncodeToString(b)
}

// pgCLI runs a bankgate admin command in-process, as an operator would
// beside running servers, and returns its stdout. The store flags are
// appended to args.
func pgCLI(t *testing.T, args []string, dbURL, dataDir, keyArg string) string {
	t.Helper()
	args = append(args, "--database-url", dbURL, "--data-dir", dataDir)
	if keyArg != "" {
		args = append(args, "--secret-key-file", keyArg)
	}
	var out, errb syncBuffer
	if err := run(context.Background(), args, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatalf("bankgate %s: %v\n%s", args[0], err, errb.String())
	}
	return out.String()
}

// pgNewApp registers an app with `apps create --json` on the database.
func pgNewApp(t *testing.T, name, dbURL, dataDir, keyArg string) (key, sec string) {
	t.Helper()
	out := pgCLI(t, []string{"apps", "create", "--name", name, "--json"}, dbURL, dataDir, keyArg)
	var v map[string]string
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&v); err != nil || dec.More() {
		t.Fatalf("apps create --json printed %q (%v), want one JSON object", out, err)
	}
	if v["name"] != name || v["appKey"] == "" || v["appSecret"] == "" {
		t.Fatalf("apps create --json = %v", v)
	}
	return v["appKey"], v["appSecret"]
}

// pgRotate rotates an app's secret with `apps rotate-secret --json` and
// returns the new secret.
func pgRotate(t *testing.T, appKey, dbURL, dataDir, keyArg string) string {
	t.Helper()
	out := pgCLI(t, []string{"apps", "rotate-secret", "--app-key", appKey, "--json"}, dbURL, dataDir, keyArg)
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil || !strings.HasPrefix(v["appSecret"], "bgas_") {
		t.Fatalf("apps rotate-secret --json printed %q (%v)", out, err)
	}
	return v["appSecret"]
}

// startRealClockServer runs `bankgate serve` in-process like startServer,
// but on the real clock, so the service's 500 ms cache expires as in
// production.
func startRealClockServer(t *testing.T, args ...string) *testServer {
	t.Helper()
	return startServer(t, serverOpts{realClock: true, args: args})
}

// result is one request's outcome, collected from goroutines that must
// not call t.Fatal.
type result struct {
	Status   int
	Body     map[string]any
	Raw      string
	Err      error // transport error or undecodable body
	Start    time.Time
	Duration time.Duration
}

func (r *result) str(k string) string { s, _ := r.Body[k].(string); return s }

// try posts body to base+path with client and never fails the test.
func try(client *http.Client, base, path, token string, body any) *result {
	start := time.Now()
	r := &result{Start: start}
	defer func() { r.Duration = time.Since(start) }()
	j, err := json.Marshal(body)
	if err != nil {
		r.Err = err
		return r
	}
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(string(j)))
	if err != nil {
		r.Err = err
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		r.Err = err
		return r
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	r.Status, r.Raw = res.StatusCode, string(raw)
	if err != nil {
		r.Err = err
		return r
	}
	if err := json.Unmarshal(raw, &r.Body); err != nil {
		r.Err = fmt.Errorf("response is not a JSON object (status %d): %q", res.StatusCode, raw)
	}
	return r
}

// envelopeProblem returns what is wrong with a failed envelope of the
// given status and type, or "".
func envelopeProblem(r *result, status int, typ string) string {
	if r.Err != nil {
		return r.Err.Error()
	}
	if r.Status != status || r.Body["success"] != false || r.Body["status"] != "failed" || r.Body["type"] != typ {
		return fmt.Sprintf("want %d %s, got %d %s", status, typ, r.Status, r.Raw)
	}
	if op, ok := r.Body["operationID"].(string); !ok || op != "" {
		return "operationID missing or not empty: " + r.Raw
	}
	if msg, _ := r.Body["msg"].(string); msg == "" {
		return "failed envelope without msg: " + r.Raw
	}
	if strings.Contains(r.Raw, "null") {
		return "null in envelope: " + r.Raw
	}
	return ""
}

// internalDetail matches words that would leak how the store failed.
var internalDetail = regexp.MustCompile(`(?i)postgres|pgx|pgconn|sql|dial|tcp|127\.0\.0\.1|:5432|refused|reset|EOF|timeout|deadline|acquire|pool|store unavailable|goroutine|\.go:`)

// metricValue returns the sum of the samples of a metric family in a
// Prometheus text exposition, and whether any sample was found.
func metricValue(text, name string) (float64, bool) {
	var sum float64
	found := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// getMetrics fetches GET /metrics.
func getMetrics(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d %s", res.StatusCode, b)
	}
	return string(b)
}

// checkPostgresMetrics asserts the metric families an operator of several
// PostgreSQL instances relies on are exposed.
func checkPostgresMetrics(t *testing.T, text string) {
	t.Helper()
	for _, name := range []string{
		"bankgate_http_requests_total",
		"bankgate_http_request_duration_seconds_bucket",
		"bankgate_http_request_duration_seconds_count",
		"bankgate_store_errors_total",
		"bankgate_pool_total_conns",
		"bankgate_pool_acquired_conns",
		"bankgate_pool_idle_conns",
		"bankgate_pool_max_conns",
		"bankgate_pool_acquire_wait_seconds_total",
		"bankgate_pool_empty_acquires_total",
	} {
		if _, ok := metricValue(text, name); !ok {
			t.Errorf("GET /metrics lacks %s", name)
		}
	}
	if v, _ := metricValue(text, "bankgate_pool_max_conns"); v < 8 {
		t.Errorf("bankgate_pool_max_conns = %v, want the default max(8, 4*GOMAXPROCS)", v)
	}
}

// TestPostgresEndToEnd walks the e2e flow of TestEndToEnd on the
// PostgreSQL store: app → login with and without MFA → exchange →
// identity → accounts → delink → USER_DELINKED; code reuse revokes the
// token; apps are isolated from each other.
func TestPostgresEndToEnd(t *testing.T) {
	dbURL := pgSchemaURL(t)
	ts := startServer(t, serverOpts{args: []string{"--database-url", dbURL}})
	if !strings.Contains(ts.Stderr.String(), `"store":"postgres"`) {
		t.Fatalf("server did not log store=postgres:\n%s", ts.Stderr.String())
	}
	appKey, appSecret := pgNewApp(t, "pg-e2e", dbURL, ts.DataDir, "")
	otherKey, otherSecret := pgNewApp(t, "pg-other", dbURL, ts.DataDir, "")

	for _, tc := range []struct {
		name string
		mfa  bool
	}{{"no MFA", false}, {"MFA", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var u *user
			if !tc.mfa {
				u = ts.login(appKey, "user_good")
			} else {
				r := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_mfa", "password": "pass_good"})
				if r.Status != 200 || r.Body["status"] != "user_input_required" {
					t.Fatalf("want user_input_required, got %s", r.Raw)
				}
				checkEnvelope(t, r)
				opID := r.str("operationID")
				r = ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "operationID": opID,
					"userInputs": []map[string]any{{"id": "otp", "index": 0, "answer": "123456"}}})
				wantOK(t, r)
				u = connected(t, r)
				// The operation is spent.
				r = ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "operationID": opID,
					"userInputs": []map[string]any{{"id": "otp", "index": 0, "answer": "123456"}}})
				wantFail(t, r, 400, "INVALID_OPERATION_ID")
			}
			ts.exchange(appSecret, u)
			r := ts.data("/v2/data/identity/get", appSecret, u, nil)
			wantOK(t, r)
			if id, _ := r.Body["identity"].(map[string]any); id["name"] == "" || id["name"] == nil {
				t.Fatalf("identity without name: %s", r.Raw)
			}
			r = ts.data("/v2/data/accounts/get", appSecret, u, nil)
			wantOK(t, r)
			if accts, _ := r.Body["accounts"].([]any); len(accts) < 2 {
				t.Fatalf("want ≥2 accounts: %s", r.Raw)
			}
			wantOK(t, ts.data("/v2/users/DelinkUser", appSecret, u, nil))
			for _, p := range []string{"/v2/data/identity/get", "/v2/data/accounts/get", "/v2/users/DelinkUser"} {
				wantFail(t, ts.data(p, appSecret, u, nil), 401, "USER_DELINKED")
			}
		})
	}

	t.Run("code reuse revokes", func(t *testing.T) {
		u := ts.login(appKey, "user_good")
		ts.exchange(appSecret, u)
		wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
		wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID}), 401, "INVALID_ACCESS_CODE")
		wantFail(t, ts.data("/v2/data/accounts/get", appSecret, u, nil), 401, "INVALID_TOKEN")
	})

	t.Run("cross-app isolation", func(t *testing.T) {
		u := ts.login(appKey, "user_good")
		// Another app's secret cannot exchange this app's code, and the
		// failed attempt does not spend or revoke it.
		wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": otherSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID}), 401, "INVALID_ACCESS_CODE")
		ts.exchange(appSecret, u)
		// Another app's secret cannot use this app's token.
		wantFail(t, ts.data("/v2/data/accounts/get", otherSecret, u, nil), 401, "INVALID_APP_CREDENTIALS")
		wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
		// The same bank user is a different userID for another app.
		o := ts.login(otherKey, "user_good")
		if o.UserID == u.UserID {
			t.Fatalf("two apps see the same userID %s", u.UserID)
		}
		ts.exchange(otherSecret, o)
		wantFail(t, ts.data("/v2/data/accounts/get", appSecret, o, nil), 401, "INVALID_APP_CREDENTIALS")
		// Delinking the other app's connection leaves this one alone.
		wantOK(t, ts.data("/v2/users/DelinkUser", otherSecret, o, nil))
		wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
	})

	t.Run("restart keeps everything", func(t *testing.T) {
		u := ts.login(appKey, "user_good")
		ts.exchange(appSecret, u)
		pending := ts.login(appKey, "user_good")
		ts.Stop()
		ts2 := startServer(t, serverOpts{dataDir: ts.DataDir, clock: ts.Clock, args: []string{"--database-url", dbURL}})
		if strings.Contains(ts2.Stdout.String(), "appSecret:") {
			t.Fatal("restart created another demo app")
		}
		wantOK(t, ts2.data("/v2/data/accounts/get", appSecret, u, nil))
		ts2.exchange(appSecret, pending)
		checkPostgresMetrics(t, getMetrics(t, ts2.AdminURL))
	})

	t.Run("migrate", func(t *testing.T) {
		var out, errb syncBuffer
		if err := run(context.Background(), []string{"migrate", "--database-url", dbURL}, func(string) string { return "" }, &out, &errb); err != nil {
			t.Fatalf("migrate on a migrated schema: %v %s", err, errb.String())
		}
		if !strings.Contains(out.String(), "migrations applied") {
			t.Fatalf("migrate printed %q", out.String())
		}
	})
}
