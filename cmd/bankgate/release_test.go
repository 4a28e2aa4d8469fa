package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// dockerInstr is one instruction of a Dockerfile: its keyword (upper
// case) and the rest of its (continued) line.
type dockerInstr struct {
	op, args string
}

// dockerStage is one FROM and what follows it.
type dockerStage struct {
	from  string // the FROM arguments
	instr []dockerInstr
}

// parseDockerfile splits a Dockerfile into stages, joining continued
// lines and dropping comments. It is enough for the shape checks below,
// not a full parser.
func parseDockerfile(t *testing.T, text string) []dockerStage {
	t.Helper()
	var stages []dockerStage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		op, args, _ := strings.Cut(line, " ")
		in := dockerInstr{strings.ToUpper(op), strings.TrimSpace(args)}
		if in.op == "FROM" {
			stages = append(stages, dockerStage{from: in.args})
			return
		}
		if len(stages) == 0 {
			if in.op != "ARG" {
				t.Fatalf("Dockerfile: %s before the first FROM", in.op)
			}
			return
		}
		stages[len(stages)-1].instr = append(stages[len(stages)-1].instr, in)
	}
	for _, l := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func (s dockerStage) all(op string) []string {
	var out []string
	for _, in := range s.instr {
		if in.op == op {
			out = append(out, in.args)
		}
	}
	return out
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// linkFlags are the build flags a release build must carry.
var linkFlags = []string{"-trimpath", "-X main.version=", "-X main.commit=", "-X main.date=", "./cmd/bankgate"}

func TestReleaseDockerfile(t *testing.T) {
	stages := parseDockerfile(t, readRepoFile(t, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a Go build stage and a runtime stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	buildImage, alias, _ := strings.Cut(build.from, " ")
	if !strings.HasPrefix(buildImage, "golang:") || !strings.HasPrefix(strings.ToUpper(alias), "AS ") {
		t.Errorf("first stage FROM %q: want a named golang stage", build.from)
	}
	alias = strings.TrimSpace(alias[3:])
	var buildRun string
	for _, r := range build.all("RUN") {
		if strings.Contains(r, "go build") {
			buildRun = r
		}
	}
	if !strings.Contains(buildRun, "CGO_ENABLED=0") {
		t.Errorf("the go build does not set CGO_ENABLED=0: %q", buildRun)
	}
	for _, f := range linkFlags {
		if !strings.Contains(buildRun, f) {
			t.Errorf("the go build lacks %q: %q", f, buildRun)
		}
	}

	if final.from != "scratch" && !strings.HasPrefix(final.from, "gcr.io/distroless/static") {
		t.Errorf("runtime stage FROM %q: want scratch or distroless static", final.from)
	}
	// The binary: copied from the build stage; the entrypoint.
	var binary string
	for _, c := range final.all("COPY") {
		f := strings.Fields(c)
		if strings.Contains(c, "--from="+alias) && strings.HasSuffix(f[len(f)-2], "/bankgate") {
			binary = f[len(f)-1]
		}
	}
	if binary == "" {
		t.Fatalf("the runtime stage copies no bankgate binary from %q", alias)
	}
	if ep := final.all("ENTRYPOINT"); len(ep) != 1 || ep[0] != `["`+binary+`"]` {
		t.Errorf("ENTRYPOINT %q, want [%q]", ep, binary)
	}
	if cmd := final.all("CMD"); len(cmd) != 1 || cmd[0] != `["serve"]` {
		t.Errorf(`CMD %q, want ["serve"]`, cmd)
	}
	// A non-root user.
	users := final.all("USER")
	if len(users) != 1 {
		t.Fatalf("runtime stage USER %q: want one", users)
	}
	if u, _, _ := strings.Cut(users[0], ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("runtime stage runs as %q", users[0])
	}
	// The data dir and the address come from ENV; the data dir is the
	// volume, the address's port is exposed.
	envs := map[string]string{}
	for _, e := range final.all("ENV") {
		for _, kv := range strings.Fields(e) {
			k, v, _ := strings.Cut(kv, "=")
			envs[k] = v
		}
	}
	dataDir, addr := envs["BANKGATE_DATA_DIR"], envs["BANKGATE_ADDR"]
	if dataDir == "" || addr == "" {
		t.Fatalf("runtime stage ENV %v lacks BANKGATE_DATA_DIR or BANKGATE_ADDR", envs)
	}
	if v := final.all("VOLUME"); len(v) != 1 || !strings.Contains(v[0], `"`+dataDir+`"`) {
		t.Errorf("VOLUME %q, want the data dir %s", v, dataDir)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(addr); host != "0.0.0.0" && host != "" {
		t.Errorf("BANKGATE_ADDR=%s: in a container the server must listen beyond the loopback", addr)
	}
	wantPorts := port
	if admin := envs["BANKGATE_ADMIN_ADDR"]; admin != "" {
		_, adminPort, err := net.SplitHostPort(admin)
		if err != nil {
			t.Fatal(err)
		}
		wantPorts += " " + adminPort
	}
	if e := final.all("EXPOSE"); len(e) != 1 || e[0] != wantPorts {
		t.Errorf("EXPOSE %q, want %s (BANKGATE_ADDR's port, then BANKGATE_ADMIN_ADDR's)", e, wantPorts)
	}
	// The health check runs the binary itself (distroless has no shell,
	// curl or wget), in exec form.
	hc := final.all("HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("HEALTHCHECK %q: want one", hc)
	}
	_, cmd, ok := strings.Cut(hc[0], "CMD ")
	if !ok || !strings.HasPrefix(strings.TrimSpace(cmd), `["`+binary+`", "healthcheck"`) {
		t.Errorf("HEALTHCHECK %q: want CMD [%q, \"healthcheck\", ...]", hc[0], binary)
	}
	// The data dir must be writable by that user in a fresh volume.
	owned := false
	for _, c := range final.all("COPY") {
		if strings.Contains(c, "--chown=") && strings.HasSuffix(c, " "+dataDir) {
			owned = true
		}
	}
	if !owned && final.from == "scratch" {
		t.Errorf("nothing makes %s owned by the non-root user", dataDir)
	}
}

func TestReleaseScript(t *testing.T) {
	script := readRepoFile(t, "scripts/release.sh")
	if out, err := exec.Command("bash", "-n", filepath.Join("..", "..", "scripts", "release.sh")).CombinedOutput(); err != nil {
		t.Fatalf("bash -n scripts/release.sh: %v\n%s", err, out)
	}
	for _, want := range append([]string{"CGO_ENABLED=0", "linux/amd64", "linux/arm64", "SHA256SUMS", "set -euo pipefail"}, linkFlags...) {
		if !strings.Contains(script, want) {
			t.Errorf("scripts/release.sh lacks %q", want)
		}
	}
	if !strings.Contains(readRepoFile(t, ".gitignore"), "/dist/") {
		t.Error(".gitignore does not ignore dist/")
	}
}

// TestReleaseBuild runs scripts/release.sh for this machine's platform
// and checks its output: the checksums and the version in the binary.
func TestReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with -trimpath, which compiles every dependency again")
	}
	dist := t.TempDir()
	cmd := exec.Command("bash", "scripts/release.sh")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-test", "COMMIT=c0ffee", "DATE=2026-12-04T00:00:00Z",
		"PLATFORMS="+runtime.GOOS+"/"+runtime.GOARCH, "DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	name := "bankgate_v0.0.0-test_" + runtime.GOOS + "_" + runtime.GOARCH
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(filepath.Join(dist, name))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	if want := hex.EncodeToString(sum[:]) + "  " + name + "\n"; string(sums) != want {
		t.Errorf("SHA256SUMS = %q, want %q", sums, want)
	}
	out, err := exec.Command(filepath.Join(dist, name), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", name, err, out)
	}
	if !strings.HasPrefix(string(out), "bankgate v0.0.0-test (commit c0ffee, built 2026-12-04T00:00:00Z,") {
		t.Errorf("%s version = %q", name, out)
	}
	// Static and trimmed: the build info says so.
	out, err = exec.Command("go", "version", "-m", filepath.Join(dist, name)).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath=true"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("go version -m lacks %s:\n%s", want, out)
		}
	}
}

func TestReleaseHealthcheck(t *testing.T) {
	ts := startServer(t, serverOpts{})
	hc := func(env map[string]string, args ...string) (string, error) {
		var out, errb syncBuffer
		err := run(context.Background(), append([]string{"healthcheck"}, args...), func(k string) string { return env[k] }, &out, &errb)
		return out.String() + errb.String(), err
	}
	if out, err := hc(nil, "--url", ts.URL+"/healthz"); err != nil || !strings.Contains(out, "200 OK") {
		t.Errorf("healthcheck --url: %v %q", err, out)
	}
	// Without --url: the server's own address, as the image runs it; an
	// unspecified host is asked on the loopback.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	for _, addr := range []string{"127.0.0.1:" + port, "0.0.0.0:" + port, ":" + port} {
		if out, err := hc(map[string]string{"BANKGATE_ADDR": addr}); err != nil {
			t.Errorf("healthcheck with BANKGATE_ADDR=%s: %v %q", addr, err, out)
		}
		if out, err := hc(nil, "--addr", addr); err != nil {
			t.Errorf("healthcheck --addr %s: %v %q", addr, err, out)
		}
	}
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	if _, err := hc(nil, "--url", sick.URL+"/healthz"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck of a 503: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, err := hc(nil, "--url", "http://"+closed+"/healthz"); err == nil {
		t.Error("healthcheck of a closed port: no error")
	}
	if matched := regexp.MustCompile(`healthcheck`).MatchString(usage); !matched {
		t.Error("usage does not list healthcheck")
	}
}
