package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// --ceiling-mode process runs this binary again as the ceiling server.
	if os.Getenv(ceilingEnv) == "1" {
		if err := serveCeilingChild(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runBench runs the whole tool with args and returns the report it wrote.
func runBench(t *testing.T, timeout time.Duration, args ...string) (*Report, string) {
	t.Helper()
	dir := t.TempDir()
	out, svg := filepath.Join(dir, "results.json"), filepath.Join(dir, "results.svg")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, append(args, "--out", out, "--svg", svg), &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("results.json: %v\n%s", err, b)
	}
	s, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(s, []byte("<svg ")) || !bytes.HasSuffix(s, []byte("</svg>\n")) {
		t.Errorf("results.svg is not an SVG document:\n%s", s)
	}
	return &rep, stdout.String()
}

// TestRun runs every scenario briefly against a freshly built bankgate
// and checks that the JSON has numbers for each.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs bankgate; skipped with -short")
	}
	start := time.Now()
	rep, stdout := runBench(t, 90*time.Second, "--duration", "300ms", "--warmup", "0", "--connections-users", "4", "--conns", "4", "--exchange-codes", "1000")
	t.Logf("took %v\n%s", time.Since(start), stdout)
	if rep.Server == nil || rep.Server.StartupMs <= 0 || rep.Server.MaxRSSBytes <= 0 {
		t.Errorf("server = %+v, want startup time and RSS", rep.Server)
	}
	if len(rep.Scenarios) != len(scenarioNames) {
		t.Errorf("got %d scenarios, want %d (%v)", len(rep.Scenarios), len(scenarioNames), scenarioNames)
	}
	for _, name := range scenarioNames {
		s := rep.result(name)
		if s == nil {
			t.Errorf("scenario %s missing from the JSON", name)
			continue
		}
		if s.Requests == 0 || s.RPS <= 0 || s.Seconds <= 0 || s.P50Ms <= 0 || s.P99Ms < s.P50Ms || s.Ratio <= 0 {
			t.Errorf("%s: requests %d, rps %v, seconds %v, p50 %v, p99 %v, ratio %v; want positive numbers, p99 ≥ p50",
				name, s.Requests, s.RPS, s.Seconds, s.P50Ms, s.P99Ms, s.Ratio)
		}
		if s.Errors != 0 {
			t.Errorf("%s: %d errors of %d requests: %v", name, s.Errors, s.Requests, s.Kinds)
		}
		if name != "ceiling" && (s.ServerCPUus <= 0 && s.Requests > 200 || s.ServerRSSMax <= 0) {
			t.Errorf("%s: server CPU %v µs/req, RSS %d; want both measured", name, s.ServerCPUus, s.ServerRSSMax)
		}
	}
	if len(rep.Targets) != 3 {
		t.Errorf("targets = %+v, want balance, exchange, login", rep.Targets)
	}
	if !strings.Contains(stdout, "targets:") {
		t.Errorf("stdout has no targets section:\n%s", stdout)
	}
}

// TestSweep runs a tiny --users sweep: one row per size, each with the
// ceiling, balance and transactions measured against that row's ceiling.
func TestSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs bankgate; skipped with -short")
	}
	rep, stdout := runBench(t, 90*time.Second, "--users", "5,2", "--duration", "200ms", "--warmup", "0", "--conns", "3", "--setup-conns", "4")
	t.Logf("%s", stdout)
	if len(rep.Sweep) != 2 || rep.Sweep[0].Users != 2 || rep.Sweep[1].Users != 5 {
		t.Fatalf("sweep = %+v, want rows for 2 and 5 users", rep.Sweep)
	}
	for _, row := range rep.Sweep {
		if row.SetupPerSecond <= 0 || row.RSSAfterSetup <= 0 || row.MaxRSSBytes < row.RSSAfterSetup {
			t.Errorf("users %d: setup %v/s, RSS %d after setup, max %d; want all measured", row.Users, row.SetupPerSecond, row.RSSAfterSetup, row.MaxRSSBytes)
		}
		for _, name := range sweepNames {
			s := row.result(name)
			if s == nil || s.Name != fmt.Sprintf("%s@%d", name, row.Users) {
				t.Errorf("users %d: no %s result in %+v", row.Users, name, row.Results)
				continue
			}
			if s.Requests == 0 || s.Errors != 0 || s.Ratio <= 0 || (name != "ceiling" && s.ServerRSSMax <= 0) {
				t.Errorf("%s: requests %d, errors %d %v, ratio %v, RSS %d", s.Name, s.Requests, s.Errors, s.Kinds, s.Ratio, s.ServerRSSMax)
			}
		}
	}
	if len(rep.Scenarios) != 6 || len(rep.Targets) != 0 {
		t.Errorf("%d scenarios, targets %+v; want the 6 results and no targets (only rows of 1,000 and 100,000 users have some)", len(rep.Scenarios), rep.Targets)
	}
	if !strings.Contains(stdout, "users sweep") {
		t.Errorf("stdout has no sweep table:\n%s", stdout)
	}
}

// TestSpread checks that the workers' walks start apart and together
// cover every user: after about users/workers requests each, every user
// has been asked for once or twice, and full passes are exactly even.
func TestSpread(t *testing.T) {
	for _, c := range []struct{ users, workers int }{{1000, 64}, {5, 64}, {64, 64}, {7, 3}} {
		b := &bench{users: make([]*user, c.users)}
		for i := range b.users {
			b.users[i] = &user{connectionID: fmt.Sprint(i)}
		}
		walk := b.spread(c.workers)
		short, full, first := map[*user]int{}, map[*user]int{}, map[*user]bool{}
		steps := (c.users + c.workers - 1) / c.workers
		for w := range c.workers {
			next := walk(w)
			for k := range c.users {
				u := next()
				if k == 0 {
					first[u] = true
				}
				if k < steps {
					short[u]++
				}
				full[u]++
			}
		}
		if len(short) != c.users {
			t.Errorf("%d users, %d workers: %d requests each reach %d users, want all", c.users, c.workers, steps, len(short))
		}
		for u, n := range short {
			if c.users >= c.workers && n > 2 {
				t.Errorf("%d users, %d workers: user %s asked for %d times in the first %d requests of each worker", c.users, c.workers, u.connectionID, n, steps)
			}
		}
		for u, n := range full {
			if n != c.workers {
				t.Errorf("%d users, %d workers: user %s asked for %d times in full passes, want %d", c.users, c.workers, u.connectionID, n, c.workers)
			}
		}
		if want := min(c.users, c.workers); len(first) != want {
			t.Errorf("%d users, %d workers: workers start on %d distinct users, want %d", c.users, c.workers, len(first), want)
		}
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("100_000, 64,1000,64")
	if err != nil || fmt.Sprint(got) != "[64 1000 100000]" {
		t.Errorf("parseSizes = %v, %v; want [64 1000 100000]", got, err)
	}
	for _, bad := range []string{"", "0", "x", "2000000", "5,-1"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q): no error", bad)
		}
	}
}

// TestCeilingProcess measures the ceiling in a child process.
func TestCeilingProcess(t *testing.T) {
	rep, _ := runBench(t, 30*time.Second, "--scenarios", "ceiling", "--ceiling-mode", "process", "--duration", "200ms", "--warmup", "0", "--conns", "2")
	s := rep.result("ceiling")
	if s == nil || s.Requests == 0 || s.Errors != 0 || s.ServerRSSMax <= 0 || rep.Server != nil {
		t.Fatalf("ceiling = %+v, server = %+v; want requests, no errors, the child's RSS and no bankgate", s, rep.Server)
	}
}

func TestFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &out); err == nil || !strings.Contains(out.String(), "--scale") {
		t.Errorf("--help: err %v, output lacks --scale:\n%s", err, out.String())
	}
	for _, args := range [][]string{
		{"--scenarios", "nope"},
		{"--conns", "0"},
		{"--duration", "0s"},
		{"--client", "curl"},
		{"extra"},
		{"--users", "0"},
		{"--users", "10", "--scenarios", "exchange"},
		{"--users", "10", "--scenarios", "ceiling"}, // a sweep reads its users: it panicked
		{"--users", "10", "--scale", "100"},
		{"--users", "10", "--connections-users", "5"},
		{"--setup-conns", "0"},
	} {
		out.Reset()
		if err := run(context.Background(), args, &out, &out); err == nil {
			t.Errorf("run %q: no error", args)
		}
	}
}

func TestParseScenarios(t *testing.T) {
	got, err := parseScenarios("mixed, balance,ceiling")
	if err != nil || strings.Join(got, ",") != "ceiling,balance,mixed" {
		t.Errorf("parseScenarios = %v, %v; want run order ceiling,balance,mixed", got, err)
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.02 || d > 0.02 {
			t.Errorf("quantile(%v) = %v, want %v ± 2%%", c.q, got, c.want)
		}
	}
	for v := uint64(0); v < 1<<20; v += 7 {
		i := bucketOf(v)
		if lo := bucketValue(i); float64(lo) < float64(v)*0.98 || float64(lo) > float64(v)*1.02+1 {
			t.Fatalf("bucketValue(bucketOf(%d)) = %d, more than 2%% off", v, lo)
		}
	}
}

// TestRawClient checks the raw client against net/http's server: small
// answers, chunked answers, and a server that closes the connection.
func TestRawClient(t *testing.T) {
	big := strings.Repeat("x", 10000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		body.ReadFrom(r.Body)
		switch r.URL.Path {
		case "/small":
			fmt.Fprintf(w, `{"success":true,"auth":%q,"got":%q}`, r.Header.Get("Authorization"), body.String())
		case "/big":
			w.(http.Flusher).Flush() // forces chunked encoding
			fmt.Fprintf(w, `{"success":true,"big":%q}`, big)
		case "/close":
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusTeapot)
			fmt.Fprint(w, "short and stout")
		}
	}))
	defer srv.Close()
	c := newClient("raw", strings.TrimPrefix(srv.URL, "http://"), 1)
	defer c.close()
	for range 3 {
		status, body, err := c.do(&request{path: "/small", auth: "tok", body: []byte(`{"a":1}`)})
		if err != nil || status != 200 || string(body) != `{"success":true,"auth":"Bearer tok","got":"{\"a\":1}"}` {
			t.Fatalf("small: %d %q %v", status, body, err)
		}
		status, body, err = c.do(&request{path: "/big"})
		if err != nil || status != 200 || len(body) != len(big)+len(`{"success":true,"big":""}`) {
			t.Fatalf("big: %d, %d bytes, %v", status, len(body), err)
		}
		status, body, err = c.do(&request{path: "/close"})
		if err != nil || status != http.StatusTeapot || string(body) != "short and stout" {
			t.Fatalf("close: %d %q %v", status, body, err)
		}
	}
}

func TestLastMonth(t *testing.T) {
	from, to := lastMonth(time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC))
	if from != "2026-02-01" || to != "2026-02-28" {
		t.Errorf("lastMonth(2026-03-15) = %s, %s", from, to)
	}
	from, to = lastMonth(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if from != "2025-12-01" || to != "2025-12-31" {
		t.Errorf("lastMonth(2026-01-01) = %s, %s", from, to)
	}
}
