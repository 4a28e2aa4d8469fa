package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEndToEnd walks the whole token flow against the real server: app →
// login (with and without MFA) → exchange → identity → accounts → delink →
// rejected.
func TestEndToEnd(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("e2e")

	t.Run("banks", func(t *testing.T) {
		r := ts.post("/v2/connect/banks/get", "", map[string]any{"appKey": appKey, "countries": []string{"SA"}})
		wantOK(t, r)
		banks, _ := r.Body["banks"].([]any)
		if len(banks) == 0 {
			t.Fatalf("no SA banks: %s", r.Raw)
		}
		for _, b := range banks {
			if b.(map[string]any)["country"] != "SA" {
				t.Fatalf("country filter ignored: %s", r.Raw)
			}
		}
		r = ts.post("/v2/connect/banks/get", "", map[string]any{"appKey": appKey})
		wantOK(t, r)
		all, _ := r.Body["banks"].([]any)
		countries := map[string]bool{}
		for _, b := range all {
			countries[b.(map[string]any)["country"].(string)] = true
		}
		if len(all) < 3 || !countries["AE"] || !countries["SA"] {
			t.Fatalf("want ≥3 banks in AE and SA: %s", r.Raw)
		}
	})

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
				if r.Status != 200 || r.Body["success"] != true || r.Body["status"] != "user_input_required" {
					t.Fatalf("want user_input_required, got %s", r.Raw)
				}
				checkEnvelope(t, r)
				inputs, _ := r.Body["userInputs"].([]any)
				if len(inputs) != 1 || inputs[0].(map[string]any)["id"] != "otp" || inputs[0].(map[string]any)["index"] != float64(0) {
					t.Fatalf("want one otp input at index 0: %s", r.Raw)
				}
				opID := r.str("operationID")
				if !strings.Contains(opID, ":") {
					t.Fatalf("operationID %q is not <bank>:<uuid>", opID)
				}
				// Resume; index omitted as dapi-go does.
				r = ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "operationID": opID,
					"userInputs": []map[string]any{{"id": "otp", "answer": "123456"}}})
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
			id, _ := r.Body["identity"].(map[string]any)
			if name, _ := id["name"].(string); name == "" {
				t.Fatalf("identity without name: %s", r.Raw)
			}
			r = ts.data("/v2/data/accounts/get", appSecret, u, nil)
			wantOK(t, r)
			accts, _ := r.Body["accounts"].([]any)
			if len(accts) < 2 {
				t.Fatalf("want ≥2 accounts: %s", r.Raw)
			}
			for _, a := range accts {
				a := a.(map[string]any)
				bal, _ := a["balance"].(map[string]any)
				if _, ok := bal["amount"].(float64); !ok {
					t.Fatalf("balance.amount is not a number: %v", a)
				}
				cur := a["currency"].(map[string]any)["code"]
				if cur != "AED" {
					t.Fatalf("AE bank account in %v", cur)
				}
			}

			// Delink under one of its spellings; then the token is refused.
			r = ts.data("/v2/users/delinkuser/", appSecret, u, nil)
			wantOK(t, r)
			for _, p := range []string{"/v2/data/identity/get", "/v2/data/accounts/get", "/v2/users/DelinkUser"} {
				wantFail(t, ts.data(p, appSecret, u, nil), 401, "USER_DELINKED")
			}
		})
	}

	t.Run("wrong MFA answer", func(t *testing.T) {
		r := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_mfa", "password": "pass_good"})
		opID := r.str("operationID")
		r = ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "operationID": opID,
			"userInputs": []map[string]any{{"id": "otp", "index": 0, "answer": "000000"}}})
		wantFail(t, r, 401, "INVALID_MFA")
	})

	t.Run("login errors", func(t *testing.T) {
		cases := []struct {
			user, pass string
			status     int
			typ        string
		}{
			{"user_good", "wrong", 401, "INVALID_CREDENTIALS"},
			{"error_TEMPORARILY_UNAVAILABLE", "pass_good", 503, "TEMPORARILY_UNAVAILABLE"},
		}
		for _, c := range cases {
			r := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": c.user, "password": c.pass})
			wantFail(t, r, c.status, c.typ)
		}
		for i := 0; i < 5; i++ {
			ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "locked_user", "password": "nope"})
		}
		r := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "locked_user", "password": "pass_good"})
		wantFail(t, r, 403, "ACCOUNT_LOCKED")
		ts.Clock.Advance(16 * time.Minute)
		wantOK(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "locked_user", "password": "pass_good"}))
		wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": "nope", "bankID": sandboxBank, "username": "u", "password": "p"}), 401, "INVALID_APP_CREDENTIALS")
		wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": "NO_SUCH_BANK", "username": "u", "password": "p"}), 400, "INVALID_BANK_ID")
	})
}

// TestAuthChecksInOrder checks the bearer checks' order and errors: token,
// then appSecret, then userSecret.
func TestAuthChecksInOrder(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("order")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	other := ts.login(appKey, "other_user")
	ts.exchange(appSecret, other)
	body := func(as, us string) map[string]any { return map[string]any{"appSecret": as, "userSecret": us} }
	cases := []struct {
		name   string
		token  string
		body   any
		status int
		typ    string
	}{
		{"no token", "", body(appSecret, u.UserSecret), 401, "INVALID_TOKEN"},
		{"malformed token", "abc", body(appSecret, u.UserSecret), 401, "INVALID_TOKEN"},
		{"unknown token", "bgat_" + strings.Repeat("A", 43), body(appSecret, u.UserSecret), 401, "INVALID_TOKEN"},
		{"bad token beats bad secrets", "nope", body("x", "y"), 401, "INVALID_TOKEN"},
		{"wrong appSecret", u.Token, body("bgas_"+strings.Repeat("A", 43), u.UserSecret), 401, "INVALID_APP_CREDENTIALS"},
		{"missing appSecret", u.Token, map[string]any{"userSecret": u.UserSecret}, 401, "INVALID_APP_CREDENTIALS"},
		{"bad appSecret beats bad userSecret", u.Token, body("x", "y"), 401, "INVALID_APP_CREDENTIALS"},
		{"other user's userSecret", u.Token, body(appSecret, other.UserSecret), 401, "INVALID_USER_SECRET"},
		{"missing userSecret", u.Token, map[string]any{"appSecret": appSecret}, 401, "INVALID_USER_SECRET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantFail(t, ts.post("/v2/data/accounts/get", tc.token, tc.body), tc.status, tc.typ)
		})
	}
	// An empty Authorization value, as dapi-go sends without a token.
	req, _ := http.NewRequest("POST", ts.URL+"/v2/data/accounts/get", strings.NewReader(`{"appSecret":"`+appSecret+`","userSecret":"`+u.UserSecret+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "")
	wantFail(t, do(t, req), 401, "INVALID_TOKEN")
}

// TestCrossAppIsolation: one app can never reach another app's users.
func TestCrossAppIsolation(t *testing.T) {
	ts := startServer(t, serverOpts{})
	keyA, secA := ts.newApp("A")
	_, secB := ts.newApp("B")
	u := ts.login(keyA, "user_good")
	// B cannot exchange A's code, and trying does not burn it.
	wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": secB, "accessCode": u.AccessCode, "connectionID": u.ConnectionID}), 401, "INVALID_ACCESS_CODE")
	ts.exchange(secA, u)
	// B's secret with A's token fails.
	wantFail(t, ts.data("/v2/data/accounts/get", secB, u, nil), 401, "INVALID_APP_CREDENTIALS")
	wantFail(t, ts.data("/v2/users/DelinkUser", secB, u, nil), 401, "INVALID_APP_CREDENTIALS")
	// A's token still works for A.
	wantOK(t, ts.data("/v2/data/accounts/get", secA, u, nil))
}

// TestConcurrentExchange races 100 exchanges of one code: exactly one
// wins, and its token is revoked afterwards because the code was reused.
func TestConcurrentExchange(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("race")
	u := ts.login(appKey, "user_good")
	const n = 100
	var wg sync.WaitGroup
	results := make([]*resp, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID})
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, r := range results {
		switch {
		case r.Status == 200 && r.Body["success"] == true:
			wins++
			u.Token = r.str("accessToken")
		case r.Status == 401 && r.Body["type"] == "INVALID_ACCESS_CODE":
		default:
			t.Fatalf("unexpected response %d %s", r.Status, r.Raw)
		}
	}
	if wins != 1 {
		t.Fatalf("%d exchanges succeeded, want exactly 1", wins)
	}
	wantFail(t, ts.data("/v2/data/accounts/get", appSecret, u, nil), 401, "INVALID_TOKEN")
}

// TestCodeReuseRevokesToken: a second exchange of a used code fails and
// revokes the token the first one issued.
func TestCodeReuseRevokesToken(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("reuse")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
	wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID}), 401, "INVALID_ACCESS_CODE")
	wantFail(t, ts.data("/v2/data/accounts/get", appSecret, u, nil), 401, "INVALID_TOKEN")
}

// TestAccessCodeExpiry moves the injected clock past the code's lifetime.
func TestAccessCodeExpiry(t *testing.T) {
	ts := startServer(t, serverOpts{args: []string{"--access-code-ttl", "60s"}})
	appKey, appSecret := ts.newApp("expiry")
	fresh := ts.login(appKey, "user_good")
	stale := ts.login(appKey, "user_good")
	ts.Clock.Advance(59 * time.Second)
	ts.exchange(appSecret, fresh)
	ts.Clock.Advance(time.Second)
	wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": stale.AccessCode, "connectionID": stale.ConnectionID}), 401, "INVALID_ACCESS_CODE")
	// The code is also bound to its connection.
	third := ts.login(appKey, "user_good")
	wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": third.AccessCode, "connectionID": fresh.ConnectionID}), 401, "INVALID_ACCESS_CODE")
}

// TestDefaultAccessCodeTTL: without configuration a code lives 30 minutes.
func TestDefaultAccessCodeTTL(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("ttl")
	ok := ts.login(appKey, "user_good")
	late := ts.login(appKey, "user_good")
	ts.Clock.Advance(29*time.Minute + 59*time.Second)
	ts.exchange(appSecret, ok)
	ts.Clock.Advance(time.Second)
	wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": late.AccessCode, "connectionID": late.ConnectionID}), 401, "INVALID_ACCESS_CODE")
}

// fullFlow runs every step that handles a secret and returns the values
// that must never be stored or logged in clear.
func fullFlow(t *testing.T, ts *testServer) []string {
	appKey, appSecret := ts.newApp("secrets")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	wantOK(t, ts.data("/v2/data/identity/get", appSecret, u, nil))
	wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
	r := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_mfa", "password": "pass_good"})
	r = ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "operationID": r.str("operationID"), "userInputs": []map[string]any{{"id": "otp", "answer": "123456"}}})
	wantOK(t, r)
	m := connected(t, r)
	ts.exchange(appSecret, m)
	// A failed login with a distinctive password.
	ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_good", "password": "Hunter2-wrong-password"})
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"apps", "rotate-secret", "--app-key", appKey, "--json", "--data-dir", ts.DataDir}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	newSecret := regexp.MustCompile(`bgas_[A-Za-z0-9_-]+`).FindString(out.String())
	wantOK(t, ts.data("/v2/users/DelinkUser", appSecret, u, nil))
	vals := []string{appSecret, newSecret, u.AccessCode, u.UserSecret, u.Token, m.AccessCode, m.UserSecret, m.Token, "pass_good", "Hunter2-wrong-password", "123456"}
	for _, v := range vals {
		if v == "" {
			t.Fatal("empty secret collected")
		}
	}
	return vals
}

// TestSecretsAtRest dumps every file the store wrote after a full flow and
// asserts no secret, token, code, userSecret or bank password is in it.
func TestSecretsAtRest(t *testing.T) {
	ts := startServer(t, serverOpts{})
	vals := fullFlow(t, ts)
	ts.Stop()
	var dump []byte
	filepath.WalkDir(ts.DataDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "server.key" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dump = append(dump, b...)
		return nil
	})
	if len(dump) < 4096 {
		t.Fatalf("database dump is only %d bytes", len(dump))
	}
	for _, v := range vals {
		// The value, and its random part without the type prefix.
		for _, s := range []string{v, v[strings.IndexByte(v, '_')+1:]} {
			if len(s) >= 6 && bytes.Contains(dump, []byte(s)) {
				t.Errorf("the store holds %q in clear", s)
			}
		}
	}
	// Permissions: data dir 0700, files 0600.
	if fi, _ := os.Stat(ts.DataDir); fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("data dir mode %v", fi.Mode().Perm())
	}
	for _, f := range []string{"server.key", "bankgate.db"} {
		if fi, err := os.Stat(filepath.Join(ts.DataDir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", f, fi.Mode().Perm(), err)
		}
	}
}

// TestLogRedaction captures the server's logs over a full flow and
// asserts none of the secrets appear, while each request is logged once.
func TestLogRedaction(t *testing.T) {
	ts := startServer(t, serverOpts{})
	vals := fullFlow(t, ts)
	logs := ts.Stderr.String()
	if n := strings.Count(logs, `"msg":"request"`); n < 8 {
		t.Fatalf("only %d request log lines:\n%s", n, logs)
	}
	for _, v := range vals {
		if strings.Contains(logs, v) || strings.Contains(logs, v[strings.IndexByte(v, '_')+1:]) {
			t.Errorf("logs contain %q", v)
		}
	}
}

// TestRestartKeepsEverything: tokens, apps and delinks survive a restart.
func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	ts := startServer(t, serverOpts{dataDir: dir, clock: clock})
	appKey, appSecret := ts.newApp("restart")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	gone := ts.login(appKey, "user_good")
	ts.exchange(appSecret, gone)
	wantOK(t, ts.data("/v2/users/DelinkUser", appSecret, gone, nil))
	pending := ts.login(appKey, "user_good")
	ts.Stop()

	ts2 := startServer(t, serverOpts{dataDir: dir, clock: clock})
	if strings.Contains(ts2.Stdout.String(), "appSecret:") {
		t.Fatal("restart created another demo app")
	}
	wantOK(t, ts2.data("/v2/data/accounts/get", appSecret, u, nil))
	wantFail(t, ts2.data("/v2/data/accounts/get", appSecret, gone, nil), 401, "USER_DELINKED")
	ts2.exchange(appSecret, pending)
}

// TestDemoAppAndWalkthrough: on an empty store serve creates the demo app
// and prints a walkthrough whose commands use it.
func TestDemoAppAndWalkthrough(t *testing.T) {
	ts := startServer(t, serverOpts{})
	out := ts.Stdout.String()
	key := regexp.MustCompile(`appKey:\s+([0-9a-f]{64})`).FindStringSubmatch(out)
	sec := regexp.MustCompile(`appSecret:\s+(bgas_\S+)`).FindStringSubmatch(out)
	if key == nil || sec == nil {
		t.Fatalf("no demo app in output:\n%s", out)
	}
	if !strings.Contains(out, "BG="+ts.URL) || !strings.Contains(out, "APP_SECRET="+sec[1]) {
		t.Fatalf("walkthrough does not use the server and app:\n%s", out)
	}
	u := ts.login(key[1], "user_good")
	ts.exchange(sec[1], u)
	wantOK(t, ts.data("/v2/data/identity/get", sec[1], u, nil))
}

// TestRotateSecretWhileServing: apps rotate-secret on the data dir of a
// running server; once the cache bound passes the old secret fails.
func TestRotateSecretWhileServing(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, oldSecret := ts.newApp("rot")
	u := ts.login(appKey, "user_good")
	ts.exchange(oldSecret, u)
	wantOK(t, ts.data("/v2/data/accounts/get", oldSecret, u, nil))
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"apps", "rotate-secret", "--app-key", appKey, "--data-dir", ts.DataDir}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	newSecret := regexp.MustCompile(`bgas_[A-Za-z0-9_-]+`).FindString(out.String())
	if newSecret == "" || newSecret == oldSecret {
		t.Fatalf("rotate-secret printed %q", out.String())
	}
	ts.Clock.Advance(1100 * time.Millisecond) // past the 1 s cache bound
	wantFail(t, ts.data("/v2/data/accounts/get", oldSecret, u, nil), 401, "INVALID_APP_CREDENTIALS")
	wantOK(t, ts.data("/v2/data/accounts/get", newSecret, u, nil))
	wantFail(t, ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": oldSecret, "accessCode": ts.login(appKey, "user_good").AccessCode, "connectionID": u.ConnectionID}), 401, "INVALID_APP_CREDENTIALS")
}

// TestAuditTrail: every audited kind of event is printed by `bankgate audit`.
func TestAuditTrail(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("audit")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID})
	v := ts.login(appKey, "user_good")
	ts.exchange(appSecret, v)
	wantOK(t, ts.data("/v2/users/DelinkUser", appSecret, v, nil))
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"apps", "rotate-secret", "--app-key", appKey, "--data-dir", ts.DataDir}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	out = syncBuffer{}
	if err := run(context.Background(), []string{"audit", "--app-key", appKey, "--data-dir", ts.DataDir}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"app_created", "secret_rotated", "connection_created", "code_issued", "code_exchanged", "code_reused", "token_revoked", "user_delinked"} {
		if !strings.Contains(out.String(), kind) {
			t.Errorf("audit output lacks %s:\n%s", kind, out.String())
		}
	}
	if !strings.Contains(out.String(), v.ConnectionID) {
		t.Errorf("audit output lacks the connection ID")
	}
	if err := run(context.Background(), []string{"audit", "--app-key", "nope", "--data-dir", ts.DataDir}, func(string) string { return "" }, &out, &errb); err == nil {
		t.Error("audit of an unknown app key succeeded")
	}
}

// TestAppsCLI covers apps create/list output and errors.
func TestAppsCLI(t *testing.T) {
	dir := t.TempDir()
	env := func(k string) string {
		if k == "BANKGATE_DATA_DIR" {
			return dir
		}
		return ""
	}
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"apps", "create", "--name", "cli", "--create"}, env, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "appSecret: bgas_") {
		t.Fatalf("apps create output: %s", out.String())
	}
	out = syncBuffer{}
	if err := run(context.Background(), []string{"apps", "list"}, env, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "cli") || strings.Contains(out.String(), "bgas_") {
		t.Fatalf("apps list output: %s", out.String())
	}
	for _, args := range [][]string{{"apps", "create"}, {"apps", "rotate-secret"}, {"apps", "rotate-secret", "--app-key", "nope"}, {"apps"}, {"nope"}, {}} {
		if err := run(context.Background(), args, env, &out, &errb); err == nil {
			t.Errorf("run %q succeeded", args)
		}
	}
	errb = syncBuffer{}
	if err := run(context.Background(), []string{"serve", "--help"}, env, &out, &errb); err == nil {
		t.Error("serve --help did not return flag.ErrHelp")
	}
	for _, want := range []string{"--addr", "BANKGATE_ADDR", "--data-dir", "BANKGATE_DATA_DIR", "--access-code-ttl", "BANKGATE_ACCESS_CODE_TTL", "--secret-key-file", "BANKGATE_SECRET_KEY"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("serve --help lacks %s:\n%s", want, errb.String())
		}
	}
	// Flag beats environment beats default.
	bad := func(k string) string {
		if k == "BANKGATE_ACCESS_CODE_TTL" {
			return "soon"
		}
		return env(k)
	}
	if err := run(context.Background(), []string{"serve"}, bad, &out, &errb); err == nil || !strings.Contains(err.Error(), "BANKGATE_ACCESS_CODE_TTL") {
		t.Errorf("bad env duration: %v", err)
	}
}

// TestConfigPrecedence: a flag beats the environment, which beats the default.
func TestConfigPrecedence(t *testing.T) {
	var cfg Config
	env := func(k string) string {
		return map[string]string{"BANKGATE_ADDR": "127.0.0.1:9999", "BANKGATE_ACCESS_CODE_TTL": "10m"}[k]
	}
	fs, err := newFlagSet("serve", "", &cfg, env, &bytes.Buffer{}, "addr", "data-dir", "access-code-ttl")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--access-code-ttl", "90s"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9999" || cfg.AccessCodeTTL != 90*time.Second || cfg.DataDir != "./bankgate-data" {
		t.Fatalf("config = %+v", cfg)
	}
}

// TestSecretKeyFile: a configured key file is used; a server given a
// wrong key refuses to start (it used to start and refuse every token).
func TestSecretKeyFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	clock := newFakeClock()
	ts := startServer(t, serverOpts{dataDir: dir, clock: clock, env: map[string]string{"BANKGATE_SECRET_KEY": keyFile}})
	appKey, appSecret := ts.newAppWithEnv("keyed", map[string]string{"BANKGATE_SECRET_KEY": keyFile})
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	ts.Stop()
	if _, err := os.Stat(filepath.Join(dir, "server.key")); err == nil {
		t.Fatal("server.key generated although a key file was given")
	}
	if err := serveFails(t, "--data-dir", dir, "--secret-key-file", "hex:"+strings.Repeat("cd", 32)); !strings.Contains(err.Error(), "do not match the store") {
		t.Fatalf("start with a wrong key: %v", err)
	}
	ts2 := startServer(t, serverOpts{dataDir: dir, clock: clock, args: []string{"--secret-key-file", keyFile}})
	wantOK(t, ts2.data("/v2/data/accounts/get", appSecret, u, nil))
}

func (ts *testServer) newAppWithEnv(name string, env map[string]string) (string, string) {
	ts.t.Helper()
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"apps", "create", "--name", name, "--json", "--data-dir", ts.DataDir}, func(k string) string { return env[k] }, &out, &errb); err != nil {
		ts.t.Fatalf("apps create: %v %s", err, errb.String())
	}
	key := regexp.MustCompile(`"appKey":"([0-9a-f]+)"`).FindStringSubmatch(out.String())
	sec := regexp.MustCompile(`"appSecret":"([^"]+)"`).FindStringSubmatch(out.String())
	return key[1], sec[1]
}

var _ = fmt.Sprint
