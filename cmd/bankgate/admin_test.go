package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testAdminToken is the admin token the admin tests give the server.
const testAdminToken = "bgadm_test-token-0123456789-abcdefghijklmnopqrstuvwxyz"

// startAdminServer starts a server with testAdminToken as its admin token.
func startAdminServer(t *testing.T, o serverOpts) *testServer {
	t.Helper()
	if o.env == nil {
		o.env = map[string]string{}
	}
	o.env["BANKGATE_ADMIN_TOKEN"] = testAdminToken
	ts := startServer(t, o)
	if ts.AdminURL == "" {
		t.Fatal("no admin listener")
	}
	return ts
}

// adminResp is a decoded admin API response.
type adminResp struct {
	Status int
	Body   map[string]any
	Raw    string
	Header http.Header
}

func (r *adminResp) str(key string) string { s, _ := r.Body[key].(string); return s }

// list returns the array under key.
func (r *adminResp) list(key string) []map[string]any {
	var out []map[string]any
	for _, v := range r.Body[key].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// adminCall sends a request to base+path with the given token ("" for
// none) and a JSON body (nil for none).
func adminCall(t *testing.T, base, method, path, token string, body any) *adminResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := &adminResp{Status: res.StatusCode, Raw: string(raw), Header: res.Header}
	json.Unmarshal(raw, &r.Body)
	return r
}

// admin calls the server's admin API with the admin token.
func (ts *testServer) admin(method, path string, body any) *adminResp {
	ts.t.Helper()
	return adminCall(ts.t, ts.AdminURL, method, path, testAdminToken, body)
}

func wantAdmin(t *testing.T, r *adminResp, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want %d, got %d %s", status, r.Status, r.Raw)
	}
}

// wantAdminError fails unless r is {"error":{"code","message"}} with the
// given status and code.
func wantAdminError(t *testing.T, r *adminResp, status int, code string) {
	t.Helper()
	e, _ := r.Body["error"].(map[string]any)
	if r.Status != status || e == nil || e["code"] != code || e["message"] == "" || len(r.Body) != 1 {
		t.Fatalf("want %d %s error, got %d %s", status, code, r.Status, r.Raw)
	}
}

// adminEndpoints lists every admin API endpoint (method and path), with
// placeholders for an app key and connection ID.
var adminEndpoints = []struct{ method, path string }{
	{"GET", "/admin/v1/whoami"},
	{"GET", "/admin/v1/apps"},
	{"POST", "/admin/v1/apps"},
	{"GET", "/admin/v1/apps/KEY"},
	{"PATCH", "/admin/v1/apps/KEY"},
	{"POST", "/admin/v1/apps/KEY/rotate-secret"},
	{"POST", "/admin/v1/apps/KEY/disable"},
	{"POST", "/admin/v1/apps/KEY/enable"},
	{"GET", "/admin/v1/apps/KEY/connections"},
	{"GET", "/admin/v1/apps/KEY/connections/CONN"},
	{"POST", "/admin/v1/apps/KEY/connections/CONN/revoke"},
	{"POST", "/admin/v1/apps/KEY/revoke-tokens"},
	{"GET", "/admin/v1/apps/KEY/sandbox"},
	{"POST", "/admin/v1/apps/KEY/sandbox/reset"},
	{"GET", "/admin/v1/apps/KEY/webhook"},
	{"PUT", "/admin/v1/apps/KEY/webhook"},
	{"POST", "/admin/v1/apps/KEY/webhook-keys"},
	{"GET", "/admin/v1/apps/KEY/webhooks"},
	{"GET", "/admin/v1/webhooks/msg_x"},
	{"POST", "/admin/v1/webhooks/msg_x/redeliver"},
	{"GET", "/admin/v1/audit"},
	{"GET", "/admin/v1/requests"},
	{"GET", "/admin/v1/nothing-here"},
}

// TestAdminListener: the admin listener is separate from the API; no
// admin endpoint answers without the admin token (and the API listener
// serves none of them); /metrics moved to the admin listener; /healthz
// and /readyz answer on both.
func TestAdminListener(t *testing.T) {
	ts := startAdminServer(t, serverOpts{})
	appKey, sec := ts.newApp("listener")
	u := ts.login(appKey, "user_good")
	ts.exchange(sec, u)

	t.Run("no admin endpoint answers without the admin token", func(t *testing.T) {
		for _, ep := range adminEndpoints {
			path := strings.NewReplacer("KEY", appKey, "CONN", u.ConnectionID).Replace(ep.path)
			for _, tok := range []string{"", "wrong", testAdminToken + "x", strings.ToUpper(testAdminToken), sec, u.Token} {
				r := adminCall(t, ts.AdminURL, ep.method, path, tok, map[string]any{})
				wantAdminError(t, r, 401, "unauthorized")
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("%s %s: 401 without WWW-Authenticate", ep.method, path)
				}
			}
			// Basic auth or a cookie named like a session are no way in.
			req, _ := http.NewRequest(ep.method, ts.AdminURL+path, nil)
			req.SetBasicAuth("admin", testAdminToken)
			req.AddCookie(&http.Cookie{Name: "session", Value: testAdminToken})
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 401 {
				t.Fatalf("%s %s with basic auth and a cookie: %d", ep.method, path, res.StatusCode)
			}
			// The API listener serves no admin endpoint, with the token or not.
			r := adminCall(t, ts.URL, ep.method, path, testAdminToken, map[string]any{})
			if r.Status != 404 && r.Status != 405 {
				t.Fatalf("API listener answered %s %s: %d %s", ep.method, path, r.Status, r.Raw)
			}
		}
		// The console page itself is public: it holds no data.
		r := adminCall(t, ts.AdminURL, "GET", "/admin/", "", nil)
		if r.Status != 200 || !strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("console: %d, CSP %q", r.Status, r.Header.Get("Content-Security-Policy"))
		}
	})

	t.Run("with the token", func(t *testing.T) {
		r := ts.admin("GET", "/admin/v1/whoami", nil)
		wantAdmin(t, r, 200)
		if r.str("tokenID") != adminTokenID(testAdminToken) || r.str("clientAddress") != "127.0.0.1" {
			t.Fatalf("whoami = %s", r.Raw)
		}
		wantAdminError(t, ts.admin("GET", "/admin/v1/nothing-here", nil), 404, "not_found")
		r = ts.admin("DELETE", "/admin/v1/apps", nil)
		wantAdminError(t, r, 405, "method_not_allowed")
		if allow := r.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
			t.Fatalf("Allow = %q", allow)
		}
	})

	t.Run("metrics only on the admin listener", func(t *testing.T) {
		res, err := http.Get(ts.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Fatalf("API listener GET /metrics = %d, want 404", res.StatusCode)
		}
		m := getMetrics(t, ts.AdminURL)
		if _, ok := metricValue(m, "bankgate_http_requests_total"); !ok {
			t.Fatalf("admin /metrics lacks bankgate_http_requests_total")
		}
		r := ts.admin("GET", "/admin/v1/requests", nil)
		wantAdmin(t, r, 200)
		if len(r.list("requests")) == 0 {
			t.Fatalf("requests = %s", r.Raw)
		}
	})

	t.Run("health on both", func(t *testing.T) {
		for _, base := range []string{ts.URL, ts.AdminURL} {
			for _, p := range []string{"/healthz", "/readyz"} {
				res, err := http.Get(base + p)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Fatalf("GET %s%s = %d", base, p, res.StatusCode)
				}
			}
		}
	})

	t.Run("off", func(t *testing.T) {
		off := startServer(t, serverOpts{args: []string{"--admin-addr", ""}})
		if off.AdminURL != "" || strings.Contains(off.Stdout.String(), "admin listening") {
			t.Fatalf("--admin-addr \"\" still started the admin listener:\n%s", off.Stdout.String())
		}
	})
}

var adminTokenLine = regexp.MustCompile(`\n  (bgadm_\S+)\n`)

// TestAdminTokenGenerated: without a configured token the server makes
// one on first start, prints it once, keeps only its digest (0600), and
// accepts it across restarts; a token file open to others is refused.
func TestAdminTokenGenerated(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, serverOpts{dataDir: dir})
	m := adminTokenLine.FindStringSubmatch(ts.Stdout.String())
	if m == nil {
		t.Fatalf("no admin token printed:\n%s", ts.Stdout.String())
	}
	tok := m[1]
	path := filepath.Join(dir, adminTokenDigestFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s mode %04o, want 0600", path, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), tok) || strings.Contains(string(b), strings.TrimPrefix(tok, adminTokenPrefix)) {
		t.Fatalf("the digest file holds the token: %q", b)
	}
	wantAdmin(t, adminCall(t, ts.AdminURL, "GET", "/admin/v1/apps", tok, nil), 200)
	ts.Stop()

	again := startServer(t, serverOpts{dataDir: dir})
	if strings.Contains(again.Stdout.String(), tok) || adminTokenLine.MatchString(again.Stdout.String()) {
		t.Fatalf("the token was printed again on restart:\n%s", again.Stdout.String())
	}
	wantAdmin(t, adminCall(t, again.AdminURL, "GET", "/admin/v1/apps", tok, nil), 200)
	wantAdminError(t, adminCall(t, again.AdminURL, "GET", "/admin/v1/apps", tok[:len(tok)-1]+"x", nil), 401, "unauthorized")
	again.Stop()

	// A token file.
	file := filepath.Join(t.TempDir(), "admin.token")
	os.WriteFile(file, []byte(testAdminToken+"\n"), 0o644)
	if err := serveFails(t, "--data-dir", t.TempDir(), "--admin-addr", "127.0.0.1:0", "--admin-token-file", file); !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a 0644 token file: %v", err)
	}
	os.Chmod(file, 0o600)
	withFile := startServer(t, serverOpts{args: []string{"--admin-token-file", file}})
	wantAdmin(t, adminCall(t, withFile.AdminURL, "GET", "/admin/v1/apps", testAdminToken, nil), 200)
	short := filepath.Join(t.TempDir(), "short.token")
	os.WriteFile(short, []byte("too-short"), 0o600)
	if err := serveFails(t, "--data-dir", t.TempDir(), "--admin-addr", "127.0.0.1:0", "--admin-token-file", short); !strings.Contains(err.Error(), "admin token is") {
		t.Fatalf("a short token: %v", err)
	}
}

// TestAdminApps: list (with counts), create, show and update apps, and
// their errors; every change is audited with the admin token's ID and
// the client's address.
func TestAdminApps(t *testing.T) {
	ts := startAdminServer(t, serverOpts{})

	r := ts.admin("POST", "/admin/v1/apps", map[string]any{"name": "Shop", "allowedOrigins": []string{"https://Shop.example.com"},
		"redirectURIs": []string{"https://shop.example.com/cb"}, "bundleIDs": []string{"com.example.shop"}, "serverURL": "https://api.shop.example.com/dapi"})
	wantAdmin(t, r, 201)
	app := r.Body["app"].(map[string]any)
	key, sec := app["appKey"].(string), r.str("appSecret")
	if key == "" || !strings.HasPrefix(sec, "bgas_") || app["name"] != "Shop" || app["environment"] != "sandbox" ||
		app["allowedOrigins"].([]any)[0] != "https://shop.example.com" || app["serverURL"] != "https://api.shop.example.com/dapi" || app["disabled"] != false {
		t.Fatalf("create = %s", r.Raw)
	}
	// The new app works on the API.
	u := ts.login(key, "user_good")
	ts.exchange(sec, u)
	wantOK(t, ts.data("/v2/data/accounts/get", sec, u, nil))

	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"no name", map[string]any{}, 400, "invalid_request"},
		{"blank name", map[string]any{"name": "  "}, 400, "invalid_request"},
		{"bad environment", map[string]any{"name": "x", "environment": "staging"}, 400, "invalid_request"},
		{"bad origin", map[string]any{"name": "x", "allowedOrigins": []string{"ftp://x"}}, 400, "invalid_request"},
		{"bad redirect", map[string]any{"name": "x", "redirectURIs": []string{"/relative"}}, 400, "invalid_request"},
		{"unknown field", map[string]any{"name": "x", "appSecret": "mine"}, 400, "invalid_request"},
		{"wrong type", map[string]any{"name": 7}, 400, "invalid_request"},
		{"not JSON", "name=x", 400, "invalid_request"},
		{"two values", `{"name":"x"} {}`, 400, "invalid_request"},
	} {
		t.Run("create: "+tc.name, func(t *testing.T) {
			wantAdminError(t, ts.admin("POST", "/admin/v1/apps", tc.body), tc.status, tc.code)
		})
	}
	req, _ := http.NewRequest("POST", ts.AdminURL+"/admin/v1/apps", strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "text/plain")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 415 {
		t.Fatalf("text/plain body: %v %v", res, err)
	}

	r = ts.admin("GET", "/admin/v1/apps", nil)
	wantAdmin(t, r, 200)
	var found map[string]any
	for _, a := range r.list("apps") {
		if a["appKey"] == key {
			found = a
		}
		if _, ok := a["appSecret"]; ok {
			t.Fatalf("list shows a secret: %s", r.Raw)
		}
	}
	if found == nil || found["connections"] != float64(1) || found["tokens"] != float64(1) {
		t.Fatalf("list: %s", r.Raw)
	}

	r = ts.admin("GET", "/admin/v1/apps/"+key, nil)
	wantAdmin(t, r, 200)
	if r.str("name") != "Shop" || r.Body["connections"] != float64(1) {
		t.Fatalf("show = %s", r.Raw)
	}
	wantAdminError(t, ts.admin("GET", "/admin/v1/apps/nope", nil), 404, "not_found")

	r = ts.admin("PATCH", "/admin/v1/apps/"+key, map[string]any{"name": "Shop 2", "allowedOrigins": []string{}, "bundleIDs": []string{"a.b", "a.b", "c.d"}, "forwarding": false})
	wantAdmin(t, r, 200)
	if r.str("name") != "Shop 2" || len(r.Body["allowedOrigins"].([]any)) != 0 || len(r.Body["bundleIDs"].([]any)) != 2 ||
		r.Body["forwarding"] != false || r.Body["redirectURIs"].([]any)[0] != "https://shop.example.com/cb" {
		t.Fatalf("update = %s", r.Raw)
	}
	wantAdminError(t, ts.admin("PATCH", "/admin/v1/apps/nope", map[string]any{"name": "x"}), 404, "not_found")
	wantAdminError(t, ts.admin("PATCH", "/admin/v1/apps/"+key, map[string]any{"serverURL": "not a url"}), 400, "invalid_request")
	// The environment changes only without linked connections.
	wantAdminError(t, ts.admin("PATCH", "/admin/v1/apps/"+key, map[string]any{"environment": "production"}), 409, "conflict")
	r = ts.admin("POST", "/admin/v1/apps", map[string]any{"name": "Later live"})
	wantAdmin(t, r, 201)
	live := r.Body["app"].(map[string]any)["appKey"].(string)
	r = ts.admin("PATCH", "/admin/v1/apps/"+live, map[string]any{"environment": "production"})
	wantAdmin(t, r, 200)
	if r.str("environment") != "production" {
		t.Fatalf("environment change = %s", r.Raw)
	}

	// The audit names the admin token and the client address.
	r = ts.admin("GET", "/admin/v1/audit?appKey="+key+"&type=admin_action", nil)
	wantAdmin(t, r, 200)
	ev := r.list("events")
	if len(ev) != 2 || !strings.Contains(ev[0]["detail"].(string), "action=update_app") || !strings.Contains(ev[1]["detail"].(string), "action=create_app") {
		t.Fatalf("admin actions = %s", r.Raw)
	}
	for _, e := range ev {
		if d := e["detail"].(string); !strings.Contains(d, "admin="+adminTokenID(testAdminToken)) || !strings.Contains(d, "ip=127.0.0.1") {
			t.Fatalf("admin action detail %q lacks the token ID or address", d)
		}
	}
}

// TestAdminRotateOverlap: a rotation with an overlap window lets the old
// and the new secret both work until the window ends, then only the new;
// one without overlap stops the old secret at once.
func TestAdminRotateOverlap(t *testing.T) {
	ts := startAdminServer(t, serverOpts{})
	key, oldSec := ts.newApp("overlap")
	u := ts.login(key, "user_good")
	ts.exchange(oldSec, u)
	wantOK(t, ts.data("/v2/data/accounts/get", oldSec, u, nil))

	r := ts.admin("POST", "/admin/v1/apps/"+key+"/rotate-secret", map[string]any{"overlap": "1h", "reason": "scheduled"})
	wantAdmin(t, r, 200)
	newSec := r.str("appSecret")
	until, _ := time.Parse(time.RFC3339Nano, r.str("previousSecretValidUntil"))
	if !strings.HasPrefix(newSec, "bgas_") || newSec == oldSec || !until.Equal(ts.Clock.Now().Add(time.Hour)) {
		t.Fatalf("rotate = %s", r.Raw)
	}
	both := func(wantOld bool) {
		t.Helper()
		wantOK(t, ts.data("/v2/data/accounts/get", newSec, u, nil))
		v := ts.login(key, "user_good")
		ts.exchange(newSec, v)
		w := ts.login(key, "user_good")
		if wantOld {
			wantOK(t, ts.data("/v2/data/accounts/get", oldSec, u, nil))
			ts.exchange(oldSec, w)
			wantOK(t, ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": oldSec}))
			return
		}
		wantFail(t, ts.data("/v2/data/accounts/get", oldSec, u, nil), 401, "INVALID_APP_CREDENTIALS")
		wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": oldSec, "accessCode": w.AccessCode, "connectionID": w.ConnectionID}), 401, "INVALID_APP_CREDENTIALS")
		wantFail(t, ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": oldSec}), 401, "INVALID_APP_CREDENTIALS")
	}
	both(true)
	ts.Clock.Advance(59 * time.Minute)
	both(true)
	ts.Clock.Advance(time.Minute)
	both(false)

	// Without overlap the old secret stops at once.
	r = ts.admin("POST", "/admin/v1/apps/"+key+"/rotate-secret", nil)
	wantAdmin(t, r, 200)
	if _, ok := r.Body["previousSecretValidUntil"]; ok && r.Body["previousSecretValidUntil"] != nil {
		t.Fatalf("rotation without overlap: %s", r.Raw)
	}
	wantFail(t, ts.data("/v2/data/accounts/get", newSec, u, nil), 401, "INVALID_APP_CREDENTIALS")
	wantOK(t, ts.data("/v2/data/accounts/get", r.str("appSecret"), u, nil))

	for _, bad := range []any{map[string]any{"overlap": "soon"}, map[string]any{"overlap": "-1h"}, map[string]any{"overlap": "1000h"}} {
		wantAdminError(t, ts.admin("POST", "/admin/v1/apps/"+key+"/rotate-secret", bad), 400, "invalid_request")
	}
	wantAdminError(t, ts.admin("POST", "/admin/v1/apps/nope/rotate-secret", nil), 404, "not_found")
	r = ts.admin("GET", "/admin/v1/audit?appKey="+key+"&type=secret_rotated", nil)
	if ev := r.list("events"); len(ev) != 2 || !strings.Contains(ev[1]["detail"].(string), `reason="scheduled"`) || !strings.Contains(ev[1]["detail"].(string), "overlap=1h0m0s") {
		t.Fatalf("rotation audit = %s", r.Raw)
	}
}

// TestAdminDisable: a disabled app's every call answers
// INVALID_APP_CREDENTIALS and its logins are refused; enabled again, it
// works.
func TestAdminDisable(t *testing.T) {
	ts := startAdminServer(t, serverOpts{})
	key, sec := ts.newApp("off")
	u := ts.login(key, "user_good")
	ts.exchange(sec, u)
	pending := ts.login(key, "user_good")
	wantOK(t, ts.data("/v2/data/accounts/get", sec, u, nil))

	r := ts.admin("POST", "/admin/v1/apps/"+key+"/disable", map[string]any{"reason": "abuse report"})
	wantAdmin(t, r, 200)
	if r.Body["disabled"] != true || r.str("disabledAt") == "" {
		t.Fatalf("disable = %s", r.Raw)
	}
	refused := func() {
		t.Helper()
		for _, p := range []string{"/v2/data/accounts/get", "/v2/data/identity/get", "/v2/data/balance/get", "/v2/users/DelinkUser", "/v2/payment/beneficiaries/get"} {
			wantFail(t, ts.data(p, sec, u, map[string]any{"accountID": "x"}), 401, "INVALID_APP_CREDENTIALS")
		}
		wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": sec, "accessCode": pending.AccessCode, "connectionID": pending.ConnectionID}), 401, "INVALID_APP_CREDENTIALS")
		wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": key, "bankID": sandboxBank, "username": "user_good", "password": "pass_good"}), 401, "INVALID_APP_CREDENTIALS")
		wantFail(t, ts.post("/v2/connect/banks/get", "", map[string]any{"appKey": key}), 401, "INVALID_APP_CREDENTIALS")
		wantFail(t, ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": sec}), 401, "INVALID_APP_CREDENTIALS")
		wantFail(t, ts.post("/v2/sandbox/users/list", "", map[string]any{"appSecret": sec}), 401, "INVALID_APP_CREDENTIALS")
	}
	refused()
	// Disabling twice changes nothing; the admin still sees the app.
	wantAdmin(t, ts.admin("POST", "/admin/v1/apps/"+key+"/disable", nil), 200)
	wantAdmin(t, ts.admin("GET", "/admin/v1/apps/"+key+"/connections", nil), 200)
	refused()

	r = ts.admin("POST", "/admin/v1/apps/"+key+"/enable", nil)
	wantAdmin(t, r, 200)
	if r.Body["disabled"] != false {
		t.Fatalf("enable = %s", r.Raw)
	}
	wantOK(t, ts.data("/v2/data/accounts/get", sec, u, nil))
	ts.exchange(sec, pending)
	ts.login(key, "user_good")

	wantAdminError(t, ts.admin("POST", "/admin/v1/apps/nope/disable", nil), 404, "not_found")
	wantAdminError(t, ts.admin("POST", "/admin/v1/apps/"+key+"/disable", map[string]any{"reason": 5}), 400, "invalid_request")
	r = ts.admin("GET", "/admin/v1/audit?appKey="+key+"&type=app_disabled", nil)
	if ev := r.list("events"); len(ev) != 1 || !strings.Contains(ev[0]["detail"].(string), `reason="abuse report"`) {
		t.Fatalf("disable audit = %s", r.Raw)
	}
}

// TestAdminConnections: an app's connections listed with paging and
// filters, one shown with its tokens and last use, one revoked.
func TestAdminConnections(t *testing.T) {
	ts := startAdminServer(t, serverOpts{})
	key, sec := ts.newApp("inventory")
	otherKey, otherSec := ts.newApp("other")
	login := func(clientUserID string) *user {
		r := ts.post("/v2/connect/login", "", map[string]any{"appKey": key, "bankID": sandboxBank, "username": "user_good", "password": "pass_good", "clientUserID": clientUserID})
		wantOK(t, r)
		u := connected(t, r)
		ts.exchange(sec, u)
		ts.Clock.Advance(time.Second)
		return u
	}
	alice1, bob, alice2 := login("alice"), login("bob"), login("alice")
	mid := ts.Clock.Now()
	carol := login("carol")
	o := ts.login(otherKey, "user_good")
	ts.exchange(otherSec, o)
	wantOK(t, ts.data("/v2/users/DelinkUser", sec, bob, nil))

	ids := func(r *adminResp) []string {
		t.Helper()
		wantAdmin(t, r, 200)
		var out []string
		for _, c := range r.list("connections") {
			out = append(out, c["connectionID"].(string))
		}
		return out
	}
	base := "/admin/v1/apps/" + key + "/connections"
	for _, tc := range []struct {
		name, query string
		want        []*user
	}{
		{"all, newest first", "", []*user{carol, alice2, bob, alice1}},
		{"by clientUserID", "?clientUserID=alice", []*user{alice2, alice1}},
		{"by bank", "?bankID=" + sandboxBank, []*user{carol, alice2, bob, alice1}},
		{"other bank", "?bankID=SANDBOX_SA_NOPE", nil},
		{"active", "?state=active", []*user{carol, alice2, alice1}},
		{"delinked", "?state=delinked", []*user{bob}},
		{"created after", "?createdAfter=" + url.QueryEscape(mid.Add(-time.Millisecond).Format(time.RFC3339Nano)), []*user{carol}},
		{"created before", "?createdBefore=" + url.QueryEscape(mid.Add(-time.Second).Format(time.RFC3339Nano)), []*user{bob, alice1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(ts.admin("GET", base+tc.query, nil))
			var want []string
			for _, u := range tc.want {
				want = append(want, u.ConnectionID)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
	// Paging.
	var all []string
	next := ""
	for range 5 {
		q := "?limit=3"
		if next != "" {
			q += "&cursor=" + url.QueryEscape(next)
		}
		r := ts.admin("GET", base+q, nil)
		all = append(all, ids(r)...)
		if next = r.str("next"); next == "" {
			break
		}
	}
	if len(all) != 4 || all[3] != alice1.ConnectionID {
		t.Fatalf("paging by 3 gave %v", all)
	}
	for _, q := range []string{"?state=gone", "?limit=0", "?limit=501", "?cursor=%21%21", "?cursor=bm9wZQ", "?createdAfter=yesterday", "?clientuserid=alice"} {
		wantAdminError(t, ts.admin("GET", base+q, nil), 400, "invalid_request")
	}
	wantAdminError(t, ts.admin("GET", "/admin/v1/apps/nope/connections", nil), 404, "not_found")

	// Show: bank, user, tokens, last use.
	wantOK(t, ts.data("/v2/data/accounts/get", sec, carol, nil))
	var r *adminResp
	pollUntil(t, 5*time.Second, "last use recorded", func() bool {
		r = ts.admin("GET", base+"/"+carol.ConnectionID, nil)
		return r.str("lastUsedAt") != ""
	})
	wantAdmin(t, r, 200)
	toks := r.Body["tokens"].([]any)
	if r.str("bankID") != sandboxBank || r.str("userID") != carol.UserID || r.str("clientUserID") != "carol" || r.str("state") != "active" ||
		len(toks) != 1 || toks[0].(map[string]any)["tokenID"] != carol.TokenID {
		t.Fatalf("show = %s", r.Raw)
	}
	if strings.Contains(r.Raw, carol.Token) || strings.Contains(r.Raw, carol.UserSecret) {
		t.Fatalf("show reveals a secret: %s", r.Raw)
	}
	wantAdminError(t, ts.admin("GET", base+"/"+o.ConnectionID, nil), 404, "not_found") // another app's
	wantAdminError(t, ts.admin("GET", base+"/nope", nil), 404, "not_found")

	// Revoke one.
	r = ts.admin("POST", base+"/"+alice2.ConnectionID+"/revoke", map[string]any{"reason": "lost phone"})
	wantAdmin(t, r, 200)
	if r.str("state") != "revoked" || r.Body["tokens"].([]any)[0].(map[string]any)["revokeReason"] != "admin_revoked" {
		t.Fatalf("revoke = %s", r.Raw)
	}
	wantFail(t, ts.data("/v2/data/accounts/get", sec, alice2, nil), 401, "INVALID_TOKEN")
	wantOK(t, ts.data("/v2/data/accounts/get", sec, alice1, nil))
	if got := ids(ts.admin("GET", base+"?state=revoked", nil)); len(got) != 1 || got[0] != alice2.ConnectionID {
		t.Fatalf("revoked connections = %v", got)
	}
	wantAdmin(t, ts.admin("POST", base+"/"+alice2.ConnectionID+"/revoke", nil), 200) // again: no change
	wantAdminError(t, ts.admin("POST", base+"/"+o.ConnectionID+"/revoke", nil), 404, "not_found")
	wantOK(t, ts.data("/v2/data/accounts/get", otherSec, o, nil))
	r = ts.admin("GET", "/admin/v1/audit?connectionID="+alice2.ConnectionID+"&type=connection_revoked", nil)
	if ev := r.list("events"); len(ev) != 1 || !strings.Contains(ev[0]["detail"].(string), `reason="lost phone"`) || ev[0]["appKey"] != key {
		t.Fatalf("revocation audit = %s", r.Raw)
	}
}

// TestAdminKillSwitch: revoke-tokens revokes every token of the app (or
// those issued before a time) and its pending access codes, at once on
// this instance, audited with who and why.
func TestAdminKillSwitch(t *testing.T) {
	ts := startAdminServer(t, serverOpts{})
	key, sec := ts.newApp("kill")
	otherKey, otherSec := ts.newApp("bystander")
	early := ts.login(key, "user_good")
	ts.exchange(sec, early)
	ts.Clock.Advance(time.Minute)
	cut := ts.Clock.Now()
	ts.Clock.Advance(time.Minute)
	late := ts.login(key, "user_good")
	ts.exchange(sec, late)
	o := ts.login(otherKey, "user_good")
	ts.exchange(otherSec, o)
	for _, u := range []*user{early, late} {
		wantOK(t, ts.data("/v2/data/accounts/get", sec, u, nil))
	}

	r := ts.admin("POST", "/admin/v1/apps/"+key+"/revoke-tokens", map[string]any{"before": cut.Format(time.RFC3339Nano), "reason": "rotation drill"})
	wantAdmin(t, r, 200)
	if r.Body["revoked"] != float64(1) {
		t.Fatalf("revoke-tokens before = %s", r.Raw)
	}
	wantFail(t, ts.data("/v2/data/accounts/get", sec, early, nil), 401, "INVALID_TOKEN")
	wantOK(t, ts.data("/v2/data/accounts/get", sec, late, nil))

	pending := ts.login(key, "user_good")
	r = ts.admin("POST", "/admin/v1/apps/"+key+"/revoke-tokens", map[string]any{"reason": "key leaked"})
	wantAdmin(t, r, 200)
	if r.Body["revoked"] != float64(1) {
		t.Fatalf("revoke-tokens = %s", r.Raw)
	}
	wantFail(t, ts.data("/v2/data/accounts/get", sec, late, nil), 401, "INVALID_TOKEN")
	wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": sec, "accessCode": pending.AccessCode, "connectionID": pending.ConnectionID}), 401, "INVALID_ACCESS_CODE")
	wantOK(t, ts.data("/v2/data/accounts/get", otherSec, o, nil))
	// New logins work after the kill switch.
	fresh := ts.login(key, "user_good")
	ts.exchange(sec, fresh)
	wantOK(t, ts.data("/v2/data/accounts/get", sec, fresh, nil))
	if n := ts.admin("GET", "/admin/v1/apps/"+key, nil).Body["tokens"]; n != float64(1) {
		t.Fatalf("tokens after the kill switch and a new login = %v", n)
	}

	wantAdminError(t, ts.admin("POST", "/admin/v1/apps/nope/revoke-tokens", nil), 404, "not_found")
	wantAdminError(t, ts.admin("POST", "/admin/v1/apps/"+key+"/revoke-tokens", map[string]any{"before": "yesterday"}), 400, "invalid_request")
	r = ts.admin("GET", "/admin/v1/audit?appKey="+key+"&type=tokens_revoked", nil)
	ev := r.list("events")
	if len(ev) != 2 {
		t.Fatalf("kill switch audit = %s", r.Raw)
	}
	d := ev[0]["detail"].(string)
	for _, want := range []string{"admin=" + adminTokenID(testAdminToken), "ip=127.0.0.1", `reason="key leaked"`, "count=1"} {
		if !strings.Contains(d, want) {
			t.Fatalf("kill switch audit detail %q lacks %q", d, want)
		}
	}
	if !strings.Contains(ev[1]["detail"].(string), "before=") {
		t.Fatalf("kill switch with before: %q", ev[1]["detail"])
	}
}

// TestAdminAudit: audit search by app, connection, type and time, newest
// first with a cursor; failed logins are recorded without the password,
// and payments with their outcome.
func TestAdminAudit(t *testing.T) {
	ts := startAdminServer(t, serverOpts{})
	// Made through the admin API, on the server's (test) clock.
	created := ts.admin("POST", "/admin/v1/apps", map[string]any{"name": "audit"})
	wantAdmin(t, created, 201)
	key, sec := created.Body["app"].(map[string]any)["appKey"].(string), created.str("appSecret")
	ts.Clock.Advance(time.Second)
	u := ts.login(key, "user_good")
	ts.exchange(sec, u)
	r0 := ts.post("/v2/connect/login", "", map[string]any{"appKey": key, "bankID": sandboxBank, "username": "user_good", "password": "hunter2-wrong"})
	wantFail(t, r0, 401, "INVALID_CREDENTIALS")
	wantOK(t, ts.data("/v2/payment/beneficiaries/create", sec, u, map[string]any{
		"name": "Audit Payee", "iban": "AE070331234567890123456", "accountNumber": "1234567890123456", "swiftCode": "BOMLAEAD",
		"type": "local", "country": "UNITED ARAB EMIRATES", "address": map[string]any{"line1": "Street 1", "line2": "Dubai", "line3": "UAE"}}))

	r := ts.admin("GET", "/admin/v1/audit?appKey="+key+"&type=login_failed", nil)
	wantAdmin(t, r, 200)
	ev := r.list("events")
	if len(ev) != 1 || !strings.Contains(ev[0]["detail"].(string), `username="user_good"`) || !strings.Contains(ev[0]["detail"].(string), "INVALID_CREDENTIALS") {
		t.Fatalf("failed logins = %s", r.Raw)
	}
	if strings.Contains(r.Raw, "hunter2") {
		t.Fatalf("the audit holds the password: %s", r.Raw)
	}
	r = ts.admin("GET", "/admin/v1/audit?connectionID="+u.ConnectionID+"&type=payment", nil)
	if ev := r.list("events"); len(ev) != 1 || !strings.Contains(ev[0]["detail"].(string), "call=/payment/beneficiaries/create") || !strings.Contains(ev[0]["detail"].(string), "result=done") {
		t.Fatalf("payments = %s", r.Raw)
	}

	// Newest first, paged by cursor, every event once.
	r = ts.admin("GET", "/admin/v1/audit?appKey="+key, nil)
	all := r.list("events")
	if len(all) < 6 || all[0]["type"] != "payment" || all[len(all)-1]["type"] != "app_created" {
		t.Fatalf("audit of the app = %s", r.Raw)
	}
	var paged []string
	next := ""
	for range 20 {
		q := "/admin/v1/audit?appKey=" + key + "&limit=2"
		if next != "" {
			q += "&cursor=" + url.QueryEscape(next)
		}
		r := ts.admin("GET", q, nil)
		wantAdmin(t, r, 200)
		for _, e := range r.list("events") {
			paged = append(paged, e["id"].(string))
		}
		if next = r.str("next"); next == "" {
			break
		}
	}
	if len(paged) != len(all) {
		t.Fatalf("paging saw %d events, want %d", len(paged), len(all))
	}
	for i, e := range all {
		if paged[i] != e["id"] {
			t.Fatalf("paging order differs at %d", i)
		}
	}
	at, _ := time.Parse(time.RFC3339Nano, all[0]["at"].(string))
	r = ts.admin("GET", "/admin/v1/audit?appKey="+key+"&before="+url.QueryEscape(at.Format(time.RFC3339Nano)), nil)
	for _, e := range r.list("events") {
		if e["at"] == all[0]["at"] {
			t.Fatalf("before did not exclude its own instant: %s", r.Raw)
		}
	}
	// Every app's events without appKey.
	if r := ts.admin("GET", "/admin/v1/audit?limit=500", nil); len(r.list("events")) <= len(all) {
		t.Fatalf("audit of all apps = %d events", len(r.list("events")))
	}
	for _, q := range []string{"?limit=x", "?before=now", "?cursor=!", "?app=1"} {
		wantAdminError(t, ts.admin("GET", "/admin/v1/audit"+q, nil), 400, "invalid_request")
	}
	wantAdminError(t, ts.admin("GET", "/admin/v1/audit?appKey=nope", nil), 404, "not_found")
}

// TestAdminSandbox: an app's sandbox world shown and reset: the test
// clock goes back, the app's sandbox users and payments are gone, and
// connections keep working in the new world.
func TestAdminSandbox(t *testing.T) {
	ts := startAdminServer(t, serverOpts{})
	key, sec := ts.newApp("world")
	u := ts.login(key, "user_good")
	ts.exchange(sec, u)
	wantOK(t, ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": sec, "advance": "48h"}))
	fixture := json.RawMessage(`{"username":"alice","password":"alice-pass-1","identity":{"name":"Alice Example"},
		"accounts":[{"id":"alice-main","name":"Main","type":"current","currency":"AED","openingBalance":1234.5}]}`)
	wantOK(t, ts.post("/v2/sandbox/users/create", "", map[string]any{"appSecret": sec, "bankID": sandboxBank, "fixture": fixture}))
	wantOK(t, ts.data("/v2/payment/beneficiaries/create", sec, u, map[string]any{
		"name": "World Payee", "iban": "AE070331234567890123456", "accountNumber": "1234567890123456", "type": "local"}))
	count := func() int {
		r := ts.data("/v2/payment/beneficiaries/get", sec, u, nil)
		wantOK(t, r)
		return len(r.Body["beneficiaries"].([]any))
	}
	before := count()

	r := ts.admin("GET", "/admin/v1/apps/"+key+"/sandbox", nil)
	wantAdmin(t, r, 200)
	if r.str("clockOffset") != "48h0m0s" || r.Body["epoch"] != float64(0) || len(r.list("users")) != 1 || r.list("users")[0]["username"] != "alice" {
		t.Fatalf("sandbox = %s", r.Raw)
	}
	r = ts.admin("POST", "/admin/v1/apps/"+key+"/sandbox/reset", map[string]any{"reason": "fresh demo"})
	wantAdmin(t, r, 200)
	if r.str("clockOffset") != "0s" || r.Body["epoch"] != float64(1) || len(r.list("users")) != 0 {
		t.Fatalf("reset = %s", r.Raw)
	}
	if got := count(); got != before-1 {
		t.Fatalf("beneficiaries after reset = %d, want %d (the one made before is gone)", got, before-1)
	}
	c := ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": sec})
	wantOK(t, c)
	if c.Body["offset"] != nil && c.Body["offset"] != "0s" && c.Body["offset"] != float64(0) {
		t.Fatalf("clock after reset = %s", c.Raw)
	}
	wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": key, "bankID": sandboxBank, "username": "alice", "password": "alice-pass-1"}), 401, "INVALID_CREDENTIALS")

	prodKey, _ := ts.newAppIn("live", "production")
	wantAdminError(t, ts.admin("GET", "/admin/v1/apps/"+prodKey+"/sandbox", nil), 409, "not_applicable")
	wantAdminError(t, ts.admin("POST", "/admin/v1/apps/"+prodKey+"/sandbox/reset", nil), 409, "not_applicable")
	wantAdminError(t, ts.admin("GET", "/admin/v1/apps/nope/sandbox", nil), 404, "not_found")
	wantAdminError(t, ts.admin("POST", "/admin/v1/apps/nope/sandbox/reset", nil), 404, "not_found")
	r = ts.admin("GET", "/admin/v1/audit?appKey="+key+"&type=sandbox_reset", nil)
	if ev := r.list("events"); len(ev) != 1 || !strings.Contains(ev[0]["detail"].(string), "epoch=1") {
		t.Fatalf("reset audit = %s", r.Raw)
	}
	_ = context.Background
}
