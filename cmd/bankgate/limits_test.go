package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// vmRSS returns this process's resident set size in bytes after a
// collection that returns freed memory to the OS. The test server runs
// in-process, so this is the server's RSS (plus the test's own).
func vmRSS(t *testing.T) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmRSS in /proc/self/status")
	return 0
}

// TestLoginHugeValuesKeepMemory: logins with a valid appKey and a
// bankID or username of nearly 1 MiB are refused without the rate
// limiters keeping those values, so 1,000 of them leave the server's
// RSS within 50 MiB of where it started.
func TestLoginHugeValuesKeepMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 250 bodies of 1 MiB")
	}
	ts := startServer(t, serverOpts{})
	appKey, _ := ts.newApp("huge")
	// Each body's value differs (a counter in front of one random
	// string), so a server that kept them would keep 250 MiB.
	base := make([]byte, (1<<20-200)/2)
	rand.Read(base)
	baseHex := hex.EncodeToString(base)
	n := 0
	huge := func() string {
		n++
		return fmt.Sprintf("%08x", n) + baseHex[8:]
	}
	client := &http.Client{}
	send := func(body []byte) int {
		req, _ := http.NewRequest("POST", ts.URL+"/v2/connect/login", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	// Warm up the server's paths (buffers, pools) before the baseline.
	wantOK(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "warm", "password": "pass_good"}))
	before := vmRSS(t)
	statuses := map[int]int{}
	for i := 0; i < 250; i++ {
		v := huge()
		var body []byte
		if i%2 == 0 {
			body = []byte(`{"appKey":"` + appKey + `","bankID":"` + v + `","username":"user_good","password":"pass_good"}`)
		} else {
			body = []byte(`{"appKey":"` + appKey + `","bankID":"` + sandboxBank + `","username":"` + v + `","password":"pass_good"}`)
		}
		statuses[send(body)]++
	}
	after := vmRSS(t)
	t.Logf("VmRSS before %d MiB, after 250 huge logins %d MiB; statuses %v", before>>20, after>>20, statuses)
	if statuses[200] != 0 || statuses[500] != 0 {
		t.Errorf("statuses %v: want only refusals", statuses)
	}
	if after-before > 50<<20 {
		t.Fatalf("RSS grew by %d MiB (from %d MiB to %d MiB); want at most 50 MiB", (after-before)>>20, before>>20, after>>20)
	}
}

// TestLoginLimitPerApp: the per-user login limit counts failures only,
// only after the appKey is valid, and per app.
func TestLoginLimitPerApp(t *testing.T) {
	parallelUnderShort(t)
	login := func(ts *testServer, appKey, username, password string) *resp {
		return ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": username, "password": password})
	}

	t.Run("an unknown appKey spends nothing", func(t *testing.T) {
		ts := startServer(t, serverOpts{})
		appKey, _ := ts.newApp("real")
		for i := 0; i < 10; i++ {
			wantFail(t, login(ts, "not-an-app", "user_good", "pass_good"), 401, "INVALID_APP_CREDENTIALS")
		}
		wantOK(t, login(ts, appKey, "user_good", "pass_good"))
	})

	t.Run("successful logins spend nothing", func(t *testing.T) {
		ts := startServer(t, serverOpts{})
		appKey, _ := ts.newApp("ci")
		for i := 0; i < 20; i++ {
			wantOK(t, login(ts, appKey, "user_good", "pass_good"))
		}
	})

	t.Run("concurrent failures cannot exceed the limit", func(t *testing.T) {
		ts := startServer(t, serverOpts{})
		appKey, _ := ts.newApp("race")
		const n = 40
		results := make([]*resp, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = login(ts, appKey, "raced_user", "wrong")
			}()
		}
		close(start)
		wg.Wait()
		tried := 0
		for _, r := range results {
			if r.Status != 429 {
				tried++
			}
		}
		if tried > 10 {
			t.Fatalf("%d of %d concurrent wrong logins reached the bank; want at most 10", tried, n)
		}
	})

	t.Run("one app's failures do not limit another app", func(t *testing.T) {
		ts := startServer(t, serverOpts{})
		keyA, _ := ts.newApp("a")
		keyB, _ := ts.newApp("b")
		var last *resp
		for i := 0; i < 11; i++ {
			last = login(ts, keyB, "user_x", "wrong")
			if last.Status == 429 {
				break
			}
		}
		wantFail(t, last, 429, "RATE_LIMIT_EXCEEDED")
		// App B is limited for user_x, right password or not.
		wantFail(t, login(ts, keyB, "user_x", "pass_good"), 429, "RATE_LIMIT_EXCEEDED")
		// App A is not. (The sandbox bank may answer ACCOUNT_LOCKED after
		// app B's failures; that is the bank's lockout, not a rate limit.)
		if r := login(ts, keyA, "user_x", "pass_good"); r.Status == 429 {
			t.Fatalf("app A limited by app B's failures: %s", r.Raw)
		}
		wantOK(t, login(ts, keyA, "other_user", "pass_good"))
	})
}

// TestAuthFailuresSpareValidCallers: failed credential checks from one
// address are answered 429 once over the limit, but a request from that
// address whose credentials are valid is served. Failed appSecret checks
// on every route count, operation/status and sandbox routes included.
func TestAuthFailuresSpareValidCallers(t *testing.T) {
	ts := startServer(t, serverOpts{})
	appKey, appSecret := ts.newApp("valid")
	u := ts.login(appKey, "user_good")
	ts.exchange(appSecret, u)
	badToken := "bgat_" + strings.Repeat("A", 43)
	statuses := map[int]int{}
	for i := 0; i < 200; i++ {
		r := ts.post("/v2/data/accounts/get", badToken, map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret})
		statuses[r.Status]++
	}
	if statuses[429] == 0 || statuses[401] == 0 || len(statuses) != 2 {
		t.Fatalf("200 failed bearer checks answered %v; want 401s then 429s", statuses)
	}
	wantOK(t, ts.data("/v2/data/accounts/get", appSecret, u, nil))
	r := ts.post("/v2/data/accounts/get", badToken, map[string]any{"appSecret": appSecret, "userSecret": u.UserSecret})
	wantFail(t, r, 429, "RATE_LIMIT_EXCEEDED")
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
	}
	// A wrong appSecret on any route is answered 429 now; the right one
	// is served.
	for _, path := range []string{"/v2/operation/status", "/v2/operation/get", "/v2/auth/ExchangeToken", "/v2/data/identity/get", "/v2/sandbox/clock"} {
		r := ts.post(path, u.Token, map[string]any{"appSecret": "bgas_" + strings.Repeat("B", 43), "userSecret": u.UserSecret, "operationID": "op", "accessCode": u.AccessCode, "connectionID": u.ConnectionID})
		wantFail(t, r, 429, "RATE_LIMIT_EXCEEDED")
	}
	wantOK(t, ts.data("/v2/data/identity/get", appSecret, u, nil))
	if r := ts.post("/v2/operation/status", "", map[string]any{"appSecret": appSecret, "operationID": "unknown"}); r.Status == 429 {
		t.Fatalf("operation/status with a valid appSecret: %s", r.Raw)
	}

	// On a fresh server, failed appSecret checks on operation/status
	// alone exhaust the per-IP limit.
	ts2 := startServer(t, serverOpts{args: []string{"--rate-limits", "auth-ip=3/1m"}})
	for i := 0; i < 3; i++ {
		wantFail(t, ts2.post("/v2/operation/status", "", map[string]any{"appSecret": "bgas_" + strings.Repeat("C", 43), "operationID": "x"}), 401, "INVALID_APP_CREDENTIALS")
	}
	wantFail(t, ts2.post("/v2/sandbox/clock", "", map[string]any{"appSecret": "bgas_" + strings.Repeat("C", 43)}), 429, "RATE_LIMIT_EXCEEDED")
}

// TestRateLimitsFlag: --rate-limits off, a custom list, and a bad value.
func TestRateLimitsFlag(t *testing.T) {
	parallelUnderShort(t)
	t.Run("off", func(t *testing.T) {
		ts := startServer(t, serverOpts{args: []string{"--rate-limits", "off"}})
		n := 5000
		if testing.Short() {
			n = 500
		}
		body := []byte(`{"appSecret":"bgas_` + strings.Repeat("D", 43) + `","operationID":"x"}`)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		for i := 0; i < n; i++ {
			res, err := client.Post(ts.URL+"/v2/operation/status", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 401 {
				t.Fatalf("failure %d answered %d, want 401", i, res.StatusCode)
			}
		}
		// Failed logins are not limited either.
		appKey, _ := ts.newApp("off")
		for i := 0; i < 40; i++ {
			wantFail(t, ts.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "guess" + strconv.Itoa(i), "password": "wrong"}), 401, "INVALID_CREDENTIALS")
		}
	})

	t.Run("custom list", func(t *testing.T) {
		ts := startServer(t, serverOpts{env: map[string]string{"BANKGATE_RATE_LIMITS": "auth-ip=3/1m,login-user=2/1m"}})
		bad := map[string]any{"appSecret": "bgas_" + strings.Repeat("E", 43), "operationID": "x"}
		for i := 0; i < 3; i++ {
			wantFail(t, ts.post("/v2/operation/status", "", bad), 401, "INVALID_APP_CREDENTIALS")
		}
		wantFail(t, ts.post("/v2/operation/status", "", bad), 429, "RATE_LIMIT_EXCEEDED")
		appKey, _ := ts.newApp("custom")
		login := map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "two_tries", "password": "wrong"}
		wantFail(t, ts.post("/v2/connect/login", "", login), 401, "INVALID_CREDENTIALS")
		wantFail(t, ts.post("/v2/connect/login", "", login), 401, "INVALID_CREDENTIALS")
		wantFail(t, ts.post("/v2/connect/login", "", login), 429, "RATE_LIMIT_EXCEEDED")
		// The flag beats the environment.
		ts2 := startServer(t, serverOpts{args: []string{"--rate-limits", "off"}, env: map[string]string{"BANKGATE_RATE_LIMITS": "auth-ip=1/1m"}})
		for i := 0; i < 3; i++ {
			wantFail(t, ts2.post("/v2/operation/status", "", bad), 401, "INVALID_APP_CREDENTIALS")
		}
	})

	t.Run("exchange-app counts per app", func(t *testing.T) {
		ts := startServer(t, serverOpts{args: []string{"--rate-limits", "auth-ip=off,exchange-app=3/1m"}})
		keyA, secA := ts.newApp("a")
		_, secB := ts.newApp("b")
		u := ts.login(keyA, "user_good")
		wrong := func(sec string) *resp {
			return ts.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": sec, "accessCode": "bgac_" + strings.Repeat("x", 43), "connectionID": u.ConnectionID})
		}
		for i := 0; i < 3; i++ {
			wantFail(t, wrong(secA), 401, "INVALID_ACCESS_CODE")
		}
		wantFail(t, wrong(secA), 429, "RATE_LIMIT_EXCEEDED")
		wantFail(t, wrong(secB), 401, "INVALID_ACCESS_CODE")
		// A's good exchange is served.
		ts.exchange(secA, u)
	})

	t.Run("bad values stop start-up", func(t *testing.T) {
		for _, v := range []string{"auth-ip=abc", "login-user=10/1m,nope=1/1s", "auth-ip=10/0s", "auth-ip=-1/1m", "exchange-app=10"} {
			var stdout, stderr syncBuffer
			err := cmdServe(context.Background(), []string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--rate-limits", v}, func(string) string { return "" }, &stdout, &stderr, nil)
			if err == nil {
				t.Fatalf("--rate-limits %q: server started", v)
			}
			bad := v
			if i := strings.LastIndex(v, ","); i >= 0 {
				bad = v[i+1:]
			}
			if !strings.Contains(err.Error(), "--rate-limits") || !strings.Contains(err.Error(), bad) {
				t.Errorf("--rate-limits %q: error %q does not name the flag and %q", v, err, bad)
			}
		}
	})

	t.Run("help lists the limits", func(t *testing.T) {
		var stdout, stderr syncBuffer
		cmdServe(context.Background(), []string{"--help"}, func(string) string { return "" }, &stdout, &stderr, nil)
		for _, want := range []string{"--rate-limits", "BANKGATE_RATE_LIMITS", "login-user=10/1m", "login-ip=30/1m", "exchange-app=120/1m", "auth-ip=60/1m"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("serve --help lacks %q:\n%s", want, stderr.String())
			}
		}
	})
}

// TestForwardedForWarning: without --trusted-proxies, requests carrying
// X-Forwarded-For get one warning per process, not one per request.
func TestForwardedForWarning(t *testing.T) {
	ts := startServer(t, serverOpts{})
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("POST", ts.URL+"/v2/operation/status", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i))
		do(t, req)
	}
	deadline := time.Now().Add(2 * time.Second)
	for strings.Count(ts.Stderr.String(), "X-Forwarded-For") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(ts.Stderr.String(), "X-Forwarded-For"); n != 1 {
		t.Fatalf("X-Forwarded-For warning logged %d times, want 1:\n%s", n, ts.Stderr.String())
	}
}

// TestRateLimitsRealTime: the limits run on real time; moving a sandbox
// clock forward does not refill them, real time does.
func TestRateLimitsRealTime(t *testing.T) {
	ts := startServer(t, serverOpts{args: []string{"--sandbox-clock", "2026-01-01", "--rate-limits", "auth-ip=3/1m"}})
	_, appSecret := ts.newApp("clock")
	bad := map[string]any{"appSecret": "bgas_" + strings.Repeat("F", 43), "operationID": "x"}
	for i := 0; i < 3; i++ {
		wantFail(t, ts.post("/v2/operation/status", "", bad), 401, "INVALID_APP_CREDENTIALS")
	}
	wantFail(t, ts.post("/v2/operation/status", "", bad), 429, "RATE_LIMIT_EXCEEDED")
	wantOK(t, ts.post("/v2/sandbox/clock", "", map[string]any{"appSecret": appSecret, "advance": "240h"}))
	wantFail(t, ts.post("/v2/operation/status", "", bad), 429, "RATE_LIMIT_EXCEEDED")
	ts.Clock.Advance(time.Minute)
	wantFail(t, ts.post("/v2/operation/status", "", bad), 401, "INVALID_APP_CREDENTIALS")
}
