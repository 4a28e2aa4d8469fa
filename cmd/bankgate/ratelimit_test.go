package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRateLimits: guessing is answered 429 RATE_LIMIT_EXCEEDED with
// Retry-After, per bank user, per client IP and per app, and the limits
// refill with time. Bank logins (low entropy) are refused while their
// limit is spent, right password or not; a request with valid
// high-entropy credentials is always served.
func TestRateLimits(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("limits")
	wantRetry := func(t *testing.T, r *resp) {
		t.Helper()
		wantFail(t, r, 429, "RATE_LIMIT_EXCEEDED")
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
		}
	}

	t.Run("failed logins per bank user", func(t *testing.T) {
		login := func(password string) *resp {
			return ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "busy_user", "password": password})
		}
		for i := 0; i < 10; i++ {
			// The sandbox bank locks the user after 5 failures.
			if r := login("wrong"); r.Status != 401 && r.Status != 403 {
				t.Fatalf("failure %d: %d %s", i, r.Status, r.Raw)
			}
		}
		wantRetry(t, login("wrong"))
		wantRetry(t, login("pass_good"))
		// Another user is not affected.
		wantOK(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "calm_user", "password": "pass_good"}))
		// After the limit refills and the sandbox's 15-minute lockout ends.
		ts.Clock.Advance(16 * time.Minute)
		wantOK(t, login("pass_good"))
	})

	t.Run("failed logins per client IP", func(t *testing.T) {
		var last *resp
		for i := 0; i < 40; i++ {
			last = ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "guess" + strconv.Itoa(i), "password": "wrong"})
			if last.Status == 429 {
				break
			}
			wantFail(t, last, 401, "INVALID_CREDENTIALS")
		}
		wantRetry(t, last)
		ts.Clock.Advance(2 * time.Minute)
		wantOK(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "after_wait", "password": "pass_good"}))
	})

	t.Run("failed bearer checks per client IP", func(t *testing.T) {
		u := ts.login(appKey, "user_good")
		ts.exchange(appSecret, u)
		var last *resp
		for i := 0; i < 150; i++ {
			last = ts.post("/v2/data/accounts/get", "bgat_"+strings.Repeat(strconv.Itoa(i%10), 43), map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret})
			if last.Status == 429 {
				break
			}
			wantFail(t, last, 401, "INVALID_TOKEN")
		}
		wantRetry(t, last)
		// Valid credentials from that address are served all along.
		wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
		ts.Clock.Advance(3 * time.Minute)
		wantFail(t, ts.post("/v2/data/accounts/get", "bgat_"+strings.Repeat("9", 43), map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret}), 401, "INVALID_TOKEN")
	})

	t.Run("failed exchanges per app", func(t *testing.T) {
		ts.Clock.Advance(10 * time.Minute)
		u := ts.login(appKey, "user_good")
		var last *resp
		for i := 0; i < 250; i++ {
			last = ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": "bgac_" + strings.Repeat("x", 43), "connectionID": u.ConnectionID})
			if last.Status == 429 {
				break
			}
			wantFail(t, last, 401, "INVALID_ACCESS_CODE")
		}
		wantRetry(t, last)
	})
}

// TestTrustedProxies: behind a trusted load balancer the client is the
// X-Forwarded-For address, so one client's guessing does not block others;
// from an untrusted peer the header is ignored.
func TestTrustedProxies(t *testing.T) {
	ts := startServer(t, serverOpts{args: []string{"--trusted-proxies", "127.0.0.0/8"}})
	appKey, _ := ts.newApp("proxies")
	login := func(xff, user, pass string) *resp {
		b := `{"appKey":"` + appKey + `","bankID":"` + sandboxBank + `","username":"` + user + `","password":"` + pass + `"}`
		req, _ := http.NewRequest("POST", ts.URL+"/v2/connect/login", strings.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		return do(t, req)
	}
	var last *resp
	for i := 0; i < 40 && (last == nil || last.Status != 429); i++ {
		last = login("198.51.100.1, 203.0.113.7", "guess"+strconv.Itoa(i), "wrong")
	}
	wantFail(t, last, 429, "RATE_LIMIT_EXCEEDED")
	wantOK(t, login("203.0.113.8", "someone_else", "pass_good"))

	plain := startServer(t, serverOpts{})
	key2, _ := plain.newApp("noproxy")
	for i := 0; i < 40; i++ {
		b := `{"appKey":"` + key2 + `","bankID":"` + sandboxBank + `","username":"g` + strconv.Itoa(i) + `","password":"wrong"}`
		req, _ := http.NewRequest("POST", plain.URL+"/v2/connect/login", strings.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i)) // spoofed, ignored
		last = do(t, req)
	}
	wantFail(t, last, 429, "RATE_LIMIT_EXCEEDED")
}
