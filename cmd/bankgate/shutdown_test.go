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
