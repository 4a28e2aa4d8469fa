package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown: SIGTERM lets a request in flight finish (here one
// whose body is still arriving), then the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	parallelUnderShort(t)
	dir := t.TempDir()
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"apps", "create", "--name", "shutdown", "--json", "--create", "--data-dir", dir}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	appKey := jsonField(t, out.String(), "appKey")
	p := startProc(t, "graceful", "--addr", "127.0.0.1:0", "--data-dir", dir, "--log-level", "info")
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := fmt.Sprintf(`{"appKey":"%s","bankID":"%s","username":"user_good","password":"pass_good"}`, appKey, sandboxBank)
	fmt.Fprintf(conn, "POST /v2/connect/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	half := len(body) / 2
	conn.Write([]byte(body[:half]))
	// Time for the server to read the headers: nothing outside shows it,
	// and a connection without a request is not one in flight.
	time.Sleep(200 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Shutting down, and still running: the request has not finished.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.Stderr.String(), "shutting down"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown logged after SIGTERM:\n%s", p.Stderr.String())
		}
	}
	select {
	case <-p.done:
		t.Fatalf("exited with a request in flight: %v", p.err)
	default:
	}
	conn.Write([]byte(body[half:]))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("in-flight request answered %d", res.StatusCode)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after the last request finished")
	}
	if p.err != nil {
		t.Fatalf("exit: %v", p.err)
	}
	// New connections are refused once shutting down.
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(p.URL, "http://"), time.Second); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}

// serveCtx runs serve in-process with args until the returned cancel
// (SIGTERM's stand-in) is called; done receives its result.
func serveCtx(t *testing.T, args ...string) (addr string, stderr *syncBuffer, cancel func(), done chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var stdout syncBuffer
	stderr = &syncBuffer{}
	ready := make(chan string, 1)
	done = make(chan error, 1)
	go func() {
		done <- cmdServe(ctx, append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "off"}, args...), func(string) string { return "" }, &stdout, stderr,
			&serveHooks{Ready: func(a string) { ready <- a }})
	}()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	return addr, stderr, cancel, done
}

// startSlowLogin sends a login's headers and half its body: a request in
// flight until finish is called, which returns its status.
func startSlowLogin(t *testing.T, addr, appKey string) (finish func() int) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body := fmt.Sprintf(`{"appKey":"%s","bankID":"%s","username":"user_good","password":"pass_good"}`, appKey, sandboxBank)
	fmt.Fprintf(conn, "POST /v2/connect/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	half := len(body) / 2
	conn.Write([]byte(body[:half]))
	// Time for the server to read the headers: a connection without a
	// request is not one in flight.
	time.Sleep(200 * time.Millisecond)
	return func() int {
		conn.Write([]byte(body[half:]))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("in-flight request lost: %v", err)
		}
		res.Body.Close()
		return res.StatusCode
	}
}

// TestShutdownDrain: after SIGTERM, /readyz answers 503 for the drain
// period while requests, new ones included, are still served; then the
// listener closes and the request in flight finishes within the grace
// period.
func TestShutdownDrain(t *testing.T) {
	skipSlow(t)
	dir := t.TempDir()
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"apps", "create", "--name", "drain", "--json", "--create", "--data-dir", dir}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	appKey := jsonField(t, out.String(), "appKey")
	const drain = 1500 * time.Millisecond
	addr, stderr, stop, done := serveCtx(t, "--data-dir", dir, "--shutdown-drain", drain.String(), "--shutdown-grace", "10s")
	base := "http://" + addr
	get := func(path string) int {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s during the drain: %v", path, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := get("/readyz"); s != 200 {
		t.Fatalf("readyz before shutdown: %d", s)
	}
	finish := startSlowLogin(t, addr, appKey)

	start := time.Now()
	stop()
	for get("/readyz") != 503 {
		if time.Since(start) > drain/2 {
			t.Fatal("/readyz still 200 well into the drain")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Still serving: health, and a new API request on a new connection.
	if s := get("/healthz"); s != 200 {
		t.Errorf("healthz during the drain: %d", s)
	}
	res, err := http.Post(base+"/v2/connect/banks/get", "application/json", strings.NewReader(`{"appKey":"`+appKey+`"}`))
	if err != nil {
		t.Fatalf("request during the drain: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !res.Close {
		t.Errorf("request during the drain: %d, connection kept (%v) (want 200, closed)", res.StatusCode, !res.Close)
	}
	if time.Since(start) > drain-200*time.Millisecond {
		t.Fatal("the checks took the whole drain; nothing shown")
	}
	// After the drain the listener closes; the request in flight lives on.
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Since(start) > drain+5*time.Second {
			t.Fatal("still accepting connections long after the drain")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if el := time.Since(start); el < drain {
		t.Fatalf("listener closed after %v, before the %v drain", el, drain)
	}
	select {
	case err := <-done:
		t.Fatalf("exited with a request in flight: %v", err)
	default:
	}
	if s := finish(); s != 200 {
		t.Fatalf("in-flight request answered %d", s)
	}
	if err := <-done; err != nil {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(stderr.String(), `"msg":"draining: /readyz answers 503 while requests are still served"`) {
		t.Errorf("drain not logged:\n%s", stderr.String())
	}
}

// TestShutdownGrace: a request still in flight when the grace period
// ends is cut off, and the server exits saying so.
func TestShutdownGrace(t *testing.T) {
	skipSlow(t)
	dir := t.TempDir()
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"apps", "create", "--name", "grace", "--json", "--create", "--data-dir", dir}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	addr, _, stop, done := serveCtx(t, "--data-dir", dir, "--shutdown-grace", "500ms")
	startSlowLogin(t, addr, jsonField(t, out.String(), "appKey")) // never finished
	start := time.Now()
	stop()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "grace period") {
			t.Fatalf("exit: %v, want the grace period named", err)
		}
		if el := time.Since(start); el < 500*time.Millisecond {
			t.Fatalf("exited after %v, before the grace period", el)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit 10 s after a 500 ms grace period")
	}
}
