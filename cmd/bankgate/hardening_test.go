package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// rawPost posts body with the given headers and decodes the answer.
func (ts *testServer) rawPost(t *testing.T, path string, body any, header map[string]string) *resp {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", ts.URL+path, bytes.NewReader(b))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

// TestIdempotencyKeyRefusedNotDropped: an Idempotency-Key that is too
// long or has characters outside printable ASCII is refused before
// anything runs. Before, a 256-character key was silently dropped, so a
// retried transfer moved money twice.
func TestIdempotencyKeyRefusedNotDropped(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("idem-long")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	acct := ts.data("/v2/data/accounts/get", appSecret, u, nil).Body["accounts"].([]any)[0].(map[string]any)["id"].(string)
	before := ts.balance(t, appSecret, u, acct)
	body := map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret, "senderID": acct, "amount": 10,
		"beneficiary": map[string]any{"name": "Payee", "iban": "AE070331234567890123456", "type": "local",
			"address": map[string]any{"line1": "x", "line2": "y", "line3": "z"}, "country": "AE", "branchAddress": "b", "branchName": "b"}}
	for _, key := range []string{strings.Repeat("k", 256), "has space", "tab\there", "ümlaut"} {
		for range 2 { // a retry is refused the same way
			wantFail(t, ts.postKey(t, "/v2/payment/transfer/autoflow", u.Token, key, body), 400, "PARAMETER_ERROR")
		}
	}
	if got := ts.balance(t, appSecret, u, acct); got != before {
		t.Fatalf("refused transfers moved money: %v -> %v", before, got)
	}
	// A valid key of 255 characters works, once.
	key := strings.Repeat("k", 255)
	for range 2 {
		wantOK(t, ts.postKey(t, "/v2/payment/transfer/autoflow", u.Token, key, body))
	}
	if got := ts.balance(t, appSecret, u, acct); got != before-10 {
		t.Fatalf("balance %v after one transfer retried, want %v", got, before-10)
	}
}

// TestJSONOnly: every API endpoint wants Content-Type application/json
// (parameters allowed) and answers anything else 415 with an envelope,
// running nothing. Before, a cross-site text/plain POST to connect/login
// (a CORS "simple request") was processed.
func TestJSONOnly(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, _ := ts.newApp("json-only")
	login := map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_good", "password": "pass_good"}
	for _, ct := range []string{"text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"} {
		r := ts.rawPost(t, "/v2/connect/login", login, map[string]string{"Content-Type": ct})
		wantFail(t, r, 415, "PARAMETER_ERROR")
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
		wantOK(t, ts.rawPost(t, "/v2/connect/login", login, map[string]string{"Content-Type": ct}))
	}
}

// TestConnectCrossSite: a browser's cross-site call to the Connect API
// is refused unless it comes from an origin the app registered.
func TestConnectCrossSite(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, _ := ts.newApp("cross-site")
	appsSet(t, ts, appKey, "--allowed-origin", "https://app.example.com")
	login := map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_good", "password": "pass_good"}
	json := map[string]string{"Content-Type": "application/json"}
	with := func(h map[string]string) map[string]string {
		out := map[string]string{"Content-Type": "application/json"}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	for _, path := range []string{"/v2/connect/login", "/v2/connect/banks/get"} {
		wantFail(t, ts.rawPost(t, path, login, with(map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})), 400, "BAD_REQUEST")
		wantFail(t, ts.rawPost(t, path, login, with(map[string]string{"Sec-Fetch-Site": "cross-site"})), 400, "BAD_REQUEST")
		wantOK(t, ts.rawPost(t, path, login, with(map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"})))
		wantOK(t, ts.rawPost(t, path, login, with(map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": ts.URL})))
		wantOK(t, ts.rawPost(t, path, login, json)) // servers send no Sec-Fetch-Site
	}
}

// TestSuccessfulLoginLimits: new connections are bounded per address and
// per app (login-ok-ip, login-ok-app), so the public appKey alone cannot
// make connections without end; answering an MFA prompt is not a new
// login.
func TestSuccessfulLoginLimits(t *testing.T) {
	ts := startServer(t, serverOpts{args: []string{"--rate-limits", "login-ok-ip=3/1m"}})
	appKey, _ := ts.newApp("ok-limits")
	for range 3 {
		ts.login(appKey, "user_good")
	}
	r := ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_good", "password": "pass_good"})
	wantFail(t, r, 429, "RATE_LIMIT_EXCEEDED")
	ts.Clock.Advance(21e9) // one token back after 20 s
	ts.login(appKey, "user_good")

	ts2 := startServer(t, serverOpts{args: []string{"--rate-limits", "login-ok-app=2/1m"}})
	keyA, _ := ts2.newApp("a")
	keyB, _ := ts2.newApp("b")
	ts2.login(keyA, "user_good")
	ask := ts2.post("/v2/connect/login", "", map[string]any{"appKey": keyA, "bankID": sandboxBank, "username": "user_mfa", "password": "pass_good"})
	if ask.Body["status"] != "user_input_required" {
		t.Fatalf("user_mfa: %s", ask.Raw)
	}
	wantOK(t, ts2.post("/v2/connect/login", "", map[string]any{"appKey": keyA, "bankID": sandboxBank, "operationID": ask.str("operationID"),
		"userInputs": []map[string]any{{"id": "otp", "index": 0, "answer": "123456"}}}))
	wantFail(t, ts2.post("/v2/connect/login", "", map[string]any{"appKey": keyA, "bankID": sandboxBank, "username": "user_good", "password": "pass_good"}), 429, "RATE_LIMIT_EXCEEDED")
	ts2.login(keyB, "user_good") // another app is not affected
}
