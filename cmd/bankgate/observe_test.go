package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The end-to-end tests of what the server tells about requests: request
// IDs, the access log and traces.

// balanceOf reads the user's first account's ID.
func (ts *testServer) firstAccount(appSecret string, u *user) string {
	ts.t.Helper()
	r := ts.data("/v2/data/accounts/get", appSecret, u, nil)
	wantOK(ts.t, r)
	accts, _ := r.Body["accounts"].([]any)
	if len(accts) == 0 {
		ts.t.Fatalf("no accounts: %s", r.Raw)
	}
	id, _ := accts[0].(map[string]any)["id"].(string)
	return id
}

// TestTraceBalanceRequest: with tracing on, one balance request is one
// trace under the caller's traceparent: the server span named by the
// route, the connector call's span beneath it, and the store calls the
// request made (here: the token's grant, read again once the cached one
// is old), all exported to an in-memory exporter.
func TestTraceBalanceRequest(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	ts := startServer(t, serverOpts{spans: exp})
	key, sec := ts.newApp("traced")
	u := ts.login(key, "user_good")
	ts.exchange(sec, u)
	acct := ts.firstAccount(sec, u)
	// Past the feed's bound, the grant is read from the store again (and
	// the sandbox user catches up with its event streams).
	ts.Clock.Advance(6 * time.Minute)
	exp.Reset()

	const traceID, parentID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	body := fmt.Sprintf(`{"appSecret":%q,"userSecret":%q,"accountID":%q}`, sec, u.UserSecret, acct)
	req, _ := http.NewRequest("POST", ts.URL+"/v2/data/balance/get", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.Token)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	r := do(t, req)
	wantOK(t, r)

	// The server span ends just after the response is written.
	var spans tracetest.SpanStubs
	deadline := time.Now().Add(5 * time.Second)
	for {
		spans = exp.GetSpans()
		if slices.ContainsFunc(spans, func(s tracetest.SpanStub) bool { return s.SpanKind == trace.SpanKindServer }) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
		t.Logf("span %-32s %s parent %s trace %s %v", s.Name, s.SpanContext.SpanID(), s.Parent.SpanID(), s.SpanContext.TraceID(), s.Attributes)
		if got := s.SpanContext.TraceID().String(); got != traceID {
			t.Errorf("span %s is in trace %s, want the caller's %s", s.Name, got, traceID)
		}
	}
	find := func(pred func(tracetest.SpanStub) bool, what string) tracetest.SpanStub {
		t.Helper()
		i := slices.IndexFunc(spans, pred)
		if i < 0 {
			t.Fatalf("no %s span among %d", what, len(spans))
		}
		return spans[i]
	}
	server := find(func(s tracetest.SpanStub) bool { return s.Name == "POST /data/balance/get" }, "server")
	if server.SpanKind != trace.SpanKindServer || server.Parent.SpanID().String() != parentID || !server.Parent.IsRemote() {
		t.Errorf("server span: kind %v, parent %s: want a server span under the traceparent's %s", server.SpanKind, server.Parent.SpanID(), parentID)
	}
	connector := find(func(s tracetest.SpanStub) bool { return s.Name == "connector /data/balance/get" }, "connector")
	if connector.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Errorf("the connector span's parent is %s, want the server span", connector.Parent.SpanID())
	}
	// under reports whether s descends from the server span.
	under := func(s tracetest.SpanStub) bool {
		for range 10 {
			p := s.Parent.SpanID()
			if p == server.SpanContext.SpanID() {
				return true
			}
			var ok bool
			if s, ok = byID[p]; !ok {
				return false
			}
		}
		return false
	}
	grant := find(func(s tracetest.SpanStub) bool { return s.Name == "store.Grant" }, "store.Grant")
	if !under(grant) {
		t.Errorf("the store.Grant span is not under the server span")
	}
	for _, s := range spans {
		if strings.HasPrefix(s.Name, "store.") && !under(s) {
			t.Errorf("store span %s is not under the server span", s.Name)
		}
	}
	var got struct {
		ReqID string `json:"reqID"`
	}
	for _, a := range server.Attributes {
		if a.Key == "bankgate.request_id" {
			got.ReqID = a.Value.AsString()
		}
	}
	if got.ReqID == "" || got.ReqID != r.Header.Get("X-Request-ID") {
		t.Errorf("the server span's request ID %q is not the response's %q", got.ReqID, r.Header.Get("X-Request-ID"))
	}
	// The access log line of the request names the trace.
	line := accessLine(t, ts.Stderr.String, got.ReqID)
	if line["traceID"] != traceID {
		t.Errorf("access log line %v: want traceID %s", line, traceID)
	}
}

// accessLine returns the access log line of the request with the given
// ID, failing when there is not exactly one.
func accessLine(t *testing.T, log func() string, reqID string) map[string]any {
	t.Helper()
	// The line is written once the handler returns, which may be after
	// the client has read the response: wait for it.
	var found []map[string]any
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		found = found[:0]
		for _, l := range strings.Split(log(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil {
				continue
			}
			if (m["msg"] == "request" || m["msg"] == "admin request") && m["reqID"] == reqID {
				found = append(found, m)
			}
		}
		if len(found) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d access log lines for request %s, want 1", len(found), reqID)
	}
	return found[0]
}

// TestRequestIDsAndAccessLog: every response of the API, the Connect page
// and the admin listener carries X-Request-ID (the caller's when sane);
// each request has one access log line with its ID, client, app key
// prefix, route, status, Dapi error type, operationID and dur_ms; tracing
// is off by default; and nothing secret is ever logged.
func TestRequestIDsAndAccessLog(t *testing.T) {
	ts := startServer(t, serverOpts{})
	key, sec := ts.newApp("logged")
	u := ts.login(key, "user_good")
	ts.exchange(sec, u)
	acct := ts.firstAccount(sec, u)

	send := func(method, url, id, token, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if id != "" {
			req.Header.Set("X-Request-ID", id)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	balance := fmt.Sprintf(`{"appSecret":%q,"userSecret":%q,"accountID":%q}`, sec, u.UserSecret, acct)
	res := send("POST", ts.URL+"/v2/data/balance/get", "client-req-1", u.Token, balance)
	if res.StatusCode != 200 || res.Header.Get("X-Request-ID") != "client-req-1" {
		t.Fatalf("balance: HTTP %d, X-Request-ID %q: want 200 and the caller's ID", res.StatusCode, res.Header.Get("X-Request-ID"))
	}
	line := accessLine(t, ts.Stderr.String, "client-req-1")
	for k, v := range map[string]any{"level": "INFO", "method": "POST", "route": "/data/balance/get", "status": 200.0, "type": "", "client": "127.0.0.1", "appKey": key[:8]} {
		if line[k] != v {
			t.Errorf("balance line: %s = %#v, want %#v", k, line[k], v)
		}
	}
	if op, _ := line["operationID"].(string); !strings.Contains(op, ":") {
		t.Errorf("balance line: operationID %#v, want the call's", line["operationID"])
	}
	if d, ok := line["dur_ms"].(float64); !ok || d <= 0 || d > 10_000 {
		t.Errorf("balance line: dur_ms %#v, want milliseconds", line["dur_ms"])
	}
	if _, traced := line["traceID"]; traced {
		t.Error("tracing is on by default")
	}

	// A failure: the Dapi error type, no app (the token is not valid).
	res = send("POST", ts.URL+"/v2/data/balance/get", "", "bgat_nope", balance)
	id := res.Header.Get("X-Request-ID")
	if res.StatusCode != 401 || len(id) != 32 {
		t.Fatalf("bad token: HTTP %d, X-Request-ID %q", res.StatusCode, id)
	}
	line = accessLine(t, ts.Stderr.String, id)
	if line["type"] != "INVALID_TOKEN" || line["status"] != 401.0 || line["appKey"] != nil {
		t.Errorf("failure line: %v", line)
	}

	// A hostile ID is replaced, not echoed or logged.
	res = send("POST", ts.URL+"/v2/data/balance/get", `"><script>`, u.Token, balance)
	if got := res.Header.Get("X-Request-ID"); len(got) != 32 || strings.Contains(ts.Stderr.String(), "<script>") {
		t.Errorf("a hostile X-Request-ID came back as %q or was logged", got)
	}

	// The Connect page and the admin listener.
	for _, c := range []struct{ name, method, url string }{
		{"Connect page", "GET", ts.URL + "/connect?appKey=" + key},
		{"connect.js", "GET", ts.URL + "/connect.js"},
		{"admin healthz", "GET", ts.AdminURL + "/healthz"},
		{"admin API without token", "GET", ts.AdminURL + "/admin/v1/apps"},
		{"admin console", "GET", ts.AdminURL + "/admin/"},
	} {
		if got := send(c.method, c.url, "id-"+strings.ReplaceAll(c.name, " ", "-"), "", "").Header.Get("X-Request-ID"); got != "id-"+strings.ReplaceAll(c.name, " ", "-") {
			t.Errorf("%s: X-Request-ID %q, want the caller's", c.name, got)
		}
		if got := send(c.method, c.url, "", "", "").Header.Get("X-Request-ID"); len(got) != 32 {
			t.Errorf("%s: X-Request-ID %q, want a new one", c.name, got)
		}
	}
	line = accessLine(t, ts.Stderr.String, "id-Connect-page")
	if line["route"] != "connect-page" || line["status"] != 200.0 {
		t.Errorf("Connect page line: %v", line)
	}
	line = accessLine(t, ts.Stderr.String, "id-admin-API-without-token")
	if line["route"] != "/admin/v1/apps" || line["status"] != 401.0 {
		t.Errorf("admin line: %v", line)
	}

	// Nothing secret, at any level (the server logs at debug here).
	ts.Stop()
	log := ts.Stderr.String()
	for name, s := range map[string]string{"appSecret": sec, "accessToken": u.Token, "userSecret": u.UserSecret, "accessCode": u.AccessCode} {
		if strings.Contains(log, s) {
			t.Errorf("the log holds the %s", name)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if strings.Contains(l, `"msg":"request"`) && !strings.Contains(l, `"reqID":"`) {
			t.Errorf("an access log line without reqID: %s", l)
		}
	}
}
