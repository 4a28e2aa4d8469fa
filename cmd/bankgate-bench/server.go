package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// buildBankgate builds ./cmd/bankgate of the module the working directory
// is in, into dir, and returns the binary's path.
func buildBankgate(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "bankgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/bankgate/bankgate/cmd/bankgate")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build bankgate (go build github.com/bankgate/bankgate/cmd/bankgate; run from inside the bankgate module or pass --bankgate-bin): %v\n%s", err, strings.TrimSpace(out.String()))
	}
	return bin, nil
}

// storeArgs are the flags that point a bankgate command at the store.
func storeArgs(dataDir, databaseURL string) []string {
	args := []string{"--data-dir", dataDir}
	if databaseURL != "" {
		args = append(args, "--database-url", databaseURL)
	}
	return args
}

// pgSchema is a schema made for one run.
type pgSchema struct {
	base, name string
}

// createSchema creates the schema bench_<random> in the database at base
// and returns it; its URL() puts bankgate's tables there. It uses pgx,
// which bankgate already depends on, so no psql is needed.
func createSchema(ctx context.Context, base string) (*pgSchema, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("--database-url: want a postgres:// URL")
	}
	if h := u.Hostname(); h != "" && h != "127.0.0.1" && h != "localhost" && h != "::1" {
		return nil, fmt.Errorf("--database-url: the host must be 127.0.0.1, localhost or a local socket (the benchmark stays on this machine), not %q", h)
	}
	b := make([]byte, 5)
	rand.Read(b)
	s := &pgSchema{base: base, name: "bench_" + hex.EncodeToString(b)}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("connect to --database-url: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+s.name); err != nil {
		return nil, fmt.Errorf("create schema %s: %w", s.name, err)
	}
	return s, nil
}

// URL returns the database URL with search_path set to the schema.
func (s *pgSchema) URL() string {
	u, _ := url.Parse(s.base)
	q := u.Query()
	q.Set("search_path", s.name)
	u.RawQuery = q.Encode()
	return u.String()
}

// drop drops the schema and everything in it.
func (s *pgSchema) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.base)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP SCHEMA "+s.name+" CASCADE")
	return err
}

// appCreds is what `bankgate apps create --json` prints.
type appCreds struct {
	Name      string `json:"name"`
	AppKey    string `json:"appKey"`
	AppSecret string `json:"appSecret"`
}

// createApp runs `bankgate apps create --name bench --json`.
func createApp(ctx context.Context, bin, dataDir, databaseURL string) (*appCreds, error) {
	args := append([]string{"apps", "create", "--name", "bench", "--json"}, storeArgs(dataDir, databaseURL)...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bankgate apps create: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var a appCreds
	if err := json.Unmarshal(stdout.Bytes(), &a); err != nil || a.AppKey == "" || a.AppSecret == "" {
		return nil, fmt.Errorf("bankgate apps create --json printed %q, want {\"name\",\"appKey\",\"appSecret\"}", stdout.String())
	}
	return &a, nil
}

// server is a running bankgate process.
type server struct {
	cmd     *exec.Cmd
	addr    string
	pid     int
	startup time.Duration
	logPath string
	exited  chan struct{}
	exitErr error
}

// startServer runs `bin serve` on 127.0.0.1:0 with the given store and
// waits up to timeout for it to print its address. Its stdout and stderr
// go to logPath.
func startServer(ctx context.Context, bin, dataDir, databaseURL, logPath string, timeout time.Duration, extra []string) (*server, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// The admin listener on a free port too: its default (127.0.0.1:8081)
	// may be taken by a server already running on the machine.
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-level", "warn", "--rate-limits", "off"}, storeArgs(dataDir, databaseURL)...)
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logf
	cmd.Env = serverEnv()
	cmd.SysProcAttr = childAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{cmd: cmd, pid: cmd.Process.Pid, logPath: logPath, exited: make(chan struct{})}
	ready := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		// Copy stdout to the log, watching for the address. The child's
		// stderr writes to the same file directly; the offset is shared.
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		const prefix = "bankgate listening on http://"
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if a, ok := strings.CutPrefix(line, prefix); ok {
				select {
				case ready <- strings.TrimSpace(a):
				default:
				}
			}
		}
		io.Copy(logf, stdout)
	}()
	go func() {
		<-copied // Wait closes stdout, so it must come after the last read
		s.exitErr = cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case a := <-ready:
		s.startup = time.Since(t0)
		host, _, err := net.SplitHostPort(a)
		if err != nil || host != "127.0.0.1" {
			s.stop()
			return nil, fmt.Errorf("bankgate says it listens on %q; want 127.0.0.1:PORT", a)
		}
		s.addr = a
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("bankgate serve exited before it was ready (%v); its log %s ends:\n%s", s.exitErr, logPath, tail(logPath, 20))
	case <-t.C:
		s.stop()
		return nil, fmt.Errorf("bankgate serve did not print %q within %v; its log %s ends:\n%s", "bankgate listening on http://ADDR", timeout, logPath, tail(logPath, 20))
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

// serverEnv is the environment for bankgate: ours without BANKGATE_*
// settings, so that only the flags the benchmark passes configure it.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BANKGATE_") {
			env = append(env, kv)
		}
	}
	return env
}

// alive reports whether the server process is still running.
func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, waits up to 10 s for a graceful exit, then kills.
func (s *server) stop() {
	if !s.alive() {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// procRSS returns the resident set size of pid in bytes from
// /proc/PID/status (VmRSS), or 0.
func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// clockTick is USER_HZ, the unit of /proc CPU times; 100 on every Linux
// architecture Go supports.
const clockTick = 100

// procCPU returns the user+system CPU time pid has used, from
// /proc/PID/stat, in 10 ms resolution.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after ")" are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTick
}

// machineCPU returns the busy, stolen and total CPU time of the whole
// machine from /proc/stat. Busy excludes idle, iowait and steal (time the
// hypervisor gave to other machines).
func machineCPU() (busy, steal, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, 0
	}
	// user nice system idle iowait irq softirq steal guest guest_nice
	var sum, idle, st int64
	for i, s := range f[1:] {
		if i >= 8 { // guest time is already counted in user time
			break
		}
		v, _ := strconv.ParseInt(s, 10, 64)
		sum += v
		switch i {
		case 3, 4:
			idle += v
		case 7:
			st = v
		}
	}
	tick := func(v int64) time.Duration { return time.Duration(v) * time.Second / clockTick }
	return tick(sum - idle - st), tick(st), tick(sum)
}

// rssSampler records the maximum RSS of a process while it runs.
type rssSampler struct {
	max  int64
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	r := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v := procRSS(pid); v > r.max {
				r.max = v
			}
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
		}
	}()
	return r
}

// Max stops sampling and returns the largest RSS seen.
func (r *rssSampler) Max() int64 {
	close(r.stop)
	<-r.done
	return r.max
}

// perfRecorder profiles a process with Linux perf for a while.
type perfRecorder struct {
	cmd      *exec.Cmd
	data     string
	out      string
	finished chan error
}

// startPerf runs `perf record -g -p pid` for d, writing dir/name.perf.data.
func startPerf(pid int, dir, name string, d time.Duration) (*perfRecorder, error) {
	p := &perfRecorder{data: filepath.Join(dir, name+".perf.data"), out: filepath.Join(dir, name+".perf.txt"), finished: make(chan error, 1)}
	secs := strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	p.cmd = exec.Command("perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(pid), "-o", p.data, "--", "sleep", secs)
	var errb bytes.Buffer
	p.cmd.Stdout, p.cmd.Stderr = &errb, &errb
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf record: %w", err)
	}
	go func() {
		err := p.cmd.Wait()
		if err != nil {
			err = fmt.Errorf("perf record: %v: %s", err, strings.TrimSpace(errb.String()))
		}
		p.finished <- err
	}()
	return p, nil
}

// finish waits for perf and writes a report of the hottest functions to
// the .perf.txt file: by self time, then by time including callees
// (bankgate's own code and what it calls, kernel frames left out). It
// returns that file's path.
func (p *perfRecorder) finish() (string, error) {
	select {
	case err := <-p.finished:
		if err != nil {
			return "", err
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		return "", errors.New("perf record did not finish")
	}
	var b bytes.Buffer
	for _, v := range []struct {
		title, mode string
		limit       string
	}{
		{"self time (where the CPU is spent)", "--no-children", "0.7"},
		{"time including callees (which calls cost it)", "--children", "2.5"},
	} {
		out, err := exec.Command("perf", "report", "-i", p.data, "--stdio", v.mode, "--sort", "symbol", "-g", "none", "--percent-limit", v.limit).Output()
		if err != nil {
			return "", fmt.Errorf("perf report: %w", err)
		}
		fmt.Fprintf(&b, "## %s\n\n", v.title)
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			if v.mode == "--children" && strings.Contains(line, "[k]") {
				continue
			}
			line = strings.TrimRight(line, " -")
			b.WriteString(line + "\n")
		}
		b.WriteString("\n")
	}
	return p.out, os.WriteFile(p.out, b.Bytes(), 0o644)
}
