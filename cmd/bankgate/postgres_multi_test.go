package main

import (
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bankgateProc is a real bankgate OS process: the test binary re-executed
// with BANKGATE_TEST_EXEC_MAIN=1, which runs main (see TestMain).
type bankgateProc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	URL    string
	Stdout *listenWatcher
	Stderr *syncBuffer
	done   chan struct{}
	err    error // of cmd.Wait, valid once done is closed
}

// listenWatcher collects a process's stdout and reports the address of
// the "bankgate listening on http://ADDR" line once it appears.
type listenWatcher struct {
	syncBuffer
	once sync.Once
	addr chan string
}

var listenLine = regexp.MustCompile(`bankgate listening on http://(\S+)\n`)

func (w *listenWatcher) Write(p []byte) (int, error) {
	n, err := w.syncBuffer.Write(p)
	if m := listenLine.FindStringSubmatch(w.String()); m != nil {
		w.once.Do(func() { w.addr <- m[1] })
	}
	return n, err
}

// startProc starts `bankgate serve` as a separate process with the given
// flags and waits until it listens. The process is killed at test end if
// it is still running.
func startProc(t *testing.T, name string, args ...string) *bankgateProc {
	t.Helper()
	p := startProcAsync(t, name, args...)
	p.waitReady()
	return p
}

func startProcAsync(t *testing.T, name string, args ...string) *bankgateProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &bankgateProc{t: t, name: name, Stdout: &listenWatcher{addr: make(chan string, 1)}, Stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(exe, append([]string{"serve", "--admin-addr", "127.0.0.1:0"}, args...)...)
	// A clean environment for the program: no BANKGATE_* settings of the
	// caller leak in; flags carry the whole configuration.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BANKGATE_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, execMainEnv+"=1")
	if os.Getenv("GORACE") == "" {
		// Under -race a process sleeps 1 s at exit by default (the race
		// runtime's atexit_sleep_ms); that is not bankgate's shutdown.
		p.cmd.Env = append(p.cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	p.cmd.Stdout, p.cmd.Stderr = p.Stdout, p.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *bankgateProc) waitReady() {
	p.t.Helper()
	select {
	case addr := <-p.Stdout.addr:
		p.URL = "http://" + addr
	case <-p.done:
		p.t.Fatalf("%s exited before listening: %v\nstdout:\n%s\nstderr:\n%s", p.name, p.err, p.Stdout.String(), p.Stderr.String())
	case <-time.After(20 * time.Second):
		p.t.Fatalf("%s not listening after 20s\nstderr:\n%s", p.name, p.Stderr.String())
	}
}

// client returns a testServer that talks to the process, so the harness
// helpers (post, login, exchange, data) work against it.
func (p *bankgateProc) client(t *testing.T) *testServer {
	return &testServer{t: t, URL: p.URL}
}

// stop sends SIGTERM and checks the process shuts down gracefully: exit
// status 0 within 15 s, having logged the shutdown.
func (p *bankgateProc) stop() {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("%s did not exit within 15s of SIGTERM", p.name)
	}
	if p.err != nil {
		p.t.Fatalf("%s exited with %v after SIGTERM, want status 0\nstderr tail:\n%s", p.name, p.err, tail(p.Stderr.String(), 3000))
	}
	if !strings.Contains(p.Stderr.String(), "shutting down") {
		p.t.Errorf("%s did not log its graceful shutdown", p.name)
	}
	p.t.Logf("%s: SIGTERM → exit 0 in %v", p.name, time.Since(start).Round(time.Millisecond))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// pollUntil calls f every 10 ms until it returns true, and returns how
// long that took; it fails the test after limit.
func pollUntil(t *testing.T, limit time.Duration, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if f() {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPostgresTwoProcesses runs two real bankgate processes on one
// database with one server key, as behind a load balancer: a token
// exchanged on one works on the other; a delink on one and a secret
// rotation by the CLI are enforced by both within the cache bound; one
// access code raced over both is exchanged exactly once; both shut down
// gracefully on SIGTERM.
func TestPostgresTwoProcesses(t *testing.T) {
	skipSlow(t)
	dbURL := pgSchemaURL(t)
	key := newKeyArg()
	flags := func() []string {
		return []string{"--addr", "127.0.0.1:0", "--database-url", dbURL, "--data-dir", t.TempDir(), "--secret-key-file", key, "--log-level", "info"}
	}
	// Both start at once on the empty schema: they migrate it together.
	pa := startProcAsync(t, "A", flags()...)
	pb := startProcAsync(t, "B", flags()...)
	pa.waitReady()
	pb.waitReady()
	a, b := pa.client(t), pb.client(t)
	// On PostgreSQL no instance makes a demo app (several may start at
	// once); both tell the operator how to create one.
	if demos := strings.Count(pa.Stdout.String()+pb.Stdout.String(), "Created the first app"); demos != 0 {
		t.Errorf("instances on PostgreSQL created %d demo apps, want 0", demos)
	}
	if !strings.Contains(pa.Stdout.String(), "bankgate apps create") {
		t.Errorf("instance A did not say how to create an app:\n%s", pa.Stdout.String())
	}

	cliDir := t.TempDir()
	appKey, appSecret := pgNewApp(t, "two", dbURL, cliDir, key)

	t.Run("exchange on A, read on B", func(t *testing.T) {
		a.t, b.t = t, t
		u := a.login(appKey, "user_good")
		a.exchange(appSecret, u)
		wantOK(t, b.data("/v2/data/accounts/get", appSecret, u, nil))
		wantOK(t, b.data("/v2/data/identity/get", appSecret, u, nil))
		wantOK(t, a.data("/v2/data/accounts/get", appSecret, u, nil))
	})

	t.Run("MFA started on A, answered on B", func(t *testing.T) {
		a.t, b.t = t, t
		r := a.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "user_mfa", "password": "pass_good"})
		if r.Body["status"] != "user_input_required" {
			t.Fatalf("want user_input_required, got %s", r.Raw)
		}
		r = b.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "operationID": r.str("operationID"),
			"userInputs": []map[string]any{{"id": "otp", "index": 0, "answer": "123456"}}})
		wantOK(t, r)
		u := connected(t, r)
		a.exchange(appSecret, u)
		wantOK(t, b.data("/v2/data/accounts/get", appSecret, u, nil))
	})

	t.Run("delink on B refused on A", func(t *testing.T) {
		a.t, b.t = t, t
		u := a.login(appKey, "user_good")
		a.exchange(appSecret, u)
		wantOK(t, b.data("/v2/data/accounts/get", appSecret, u, nil))
		// A caches the grant just before the delink: the worst case.
		wantOK(t, a.data("/v2/data/accounts/get", appSecret, u, nil))
		wantOK(t, b.data("/v2/users/DelinkUser", appSecret, u, nil))
		wantFail(t, b.data("/v2/data/accounts/get", appSecret, u, nil), 401, "USER_DELINKED")
		servedStale := 0
		d := pollUntil(t, time.Second, "A refuses the delinked token", func() bool {
			r := a.data("/v2/data/accounts/get", appSecret, u, nil)
			if r.Status == 200 {
				servedStale++
				return false
			}
			wantFail(t, r, 401, "USER_DELINKED")
			return true
		})
		t.Logf("delink on B → refused on A after %v (%d requests served from A's cache meanwhile)", d.Round(time.Millisecond), servedStale)
	})

	t.Run("rotate secret refused on both", func(t *testing.T) {
		a.t, b.t = t, t
		u := a.login(appKey, "user_good")
		a.exchange(appSecret, u)
		// Both instances cache the app (and its secret digest) just before.
		wantOK(t, a.data("/v2/data/accounts/get", appSecret, u, nil))
		wantOK(t, b.data("/v2/data/accounts/get", appSecret, u, nil))
		oldSecret := appSecret
		newSecret := pgRotate(t, appKey, dbURL, cliDir, key)
		var doneA, doneB time.Duration
		start := time.Now()
		pollUntil(t, time.Second, "both refuse the old appSecret", func() bool {
			for _, c := range []struct {
				ts   *testServer
				done *time.Duration
			}{{a, &doneA}, {b, &doneB}} {
				if *c.done != 0 {
					continue
				}
				if r := c.ts.data("/v2/data/accounts/get", oldSecret, u, nil); r.Status != 200 {
					wantFail(t, r, 401, "INVALID_APP_CREDENTIALS")
					*c.done = time.Since(start)
				}
			}
			return doneA != 0 && doneB != 0
		})
		t.Logf("apps rotate-secret → old secret refused on A after %v, on B after %v", doneA.Round(time.Millisecond), doneB.Round(time.Millisecond))
		wantOK(t, a.data("/v2/data/accounts/get", newSecret, u, nil))
		wantOK(t, b.data("/v2/data/accounts/get", newSecret, u, nil))
		// Exchange never trusted a cached secret.
		v := b.login(appKey, "user_good")
		wantFail(t, a.post("/v2/auth/ExchangeToken", "", map[string]any{"appSecret": oldSecret, "accessCode": v.AccessCode, "connectionID": v.ConnectionID}), 401, "INVALID_APP_CREDENTIALS")
		appSecret = newSecret
	})

	t.Run("100 concurrent exchanges over both", func(t *testing.T) {
		a.t, b.t = t, t
		u := a.login(appKey, "user_good")
		const n = 100
		results := make([]*result, n)
		// A transport of its own, closed at the end: connections it dialled
		// but never used would otherwise delay the graceful shutdown below
		// (net/http waits up to 5 s for a connection yet to send a request).
		client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
		defer client.CloseIdleConnections()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			base := a.URL
			if i%2 == 1 {
				base = b.URL
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = try(client, base, "/v2/auth/ExchangeToken", "", map[string]any{"appSecret": appSecret, "accessCode": u.AccessCode, "connectionID": u.ConnectionID})
			}()
		}
		began := time.Now()
		close(start)
		wg.Wait()
		elapsed := time.Since(began)
		wins, winner := 0, -1
		for i, r := range results {
			switch {
			case r.Err == nil && r.Status == 200 && r.Body["success"] == true:
				wins++
				winner = i
				u.Token = r.str("accessToken")
			case envelopeProblem(r, 401, "INVALID_ACCESS_CODE") == "":
			default:
				t.Fatalf("exchange #%d: unexpected %v %d %s", i, r.Err, r.Status, r.Raw)
			}
		}
		if wins != 1 {
			t.Fatalf("%d of %d exchanges succeeded, want exactly 1", wins, n)
		}
		t.Logf("100 concurrent exchanges of one code over A and B in %v: 1 success (on %s), 99 INVALID_ACCESS_CODE", elapsed.Round(time.Millisecond), map[int]string{0: "A", 1: "B"}[winner%2])
		// The reuse revoked the one token issued, on both instances.
		wantFail(t, a.data("/v2/data/accounts/get", appSecret, u, nil), 401, "INVALID_TOKEN")
		wantFail(t, b.data("/v2/data/accounts/get", appSecret, u, nil), 401, "INVALID_TOKEN")
	})

	t.Run("sandbox lockout is per process", func(t *testing.T) {
		a.t, b.t = t, t
		for range 5 {
			a.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "lock_me", "password": "nope"})
		}
		wantFail(t, a.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "lock_me", "password": "pass_good"}), 403, "ACCOUNT_LOCKED")
		r := b.post("/v2/connect/login", "", map[string]any{"appKey": appKey, "bankID": sandboxBank, "username": "lock_me", "password": "pass_good"})
		t.Logf("after 5 failures on A, the same sandbox user on B: %d %s (the lockout counter is per process)", r.Status, r.str("type"))
	})

	t.Run("graceful shutdown", func(t *testing.T) {
		pa.t, pb.t = t, t
		pa.stop()
		// B keeps serving alone.
		b.t = t
		u := b.login(appKey, "user_good")
		b.exchange(appSecret, u)
		wantOK(t, b.data("/v2/data/accounts/get", appSecret, u, nil))
		pb.stop()
	})
}
