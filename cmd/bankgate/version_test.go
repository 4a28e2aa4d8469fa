package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func fakeBuildInfo(mainVersion string, settings ...string) func() (*debug.BuildInfo, bool) {
	return func() (*debug.BuildInfo, bool) {
		bi := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Path: "github.com/bankgate/bankgate", Version: mainVersion}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi, true
	}
}

func TestVersionBuildInfo(t *testing.T) {
	vcs := []string{"vcs", "git", "vcs.revision", "0123456789abcdef0123456789abcdef01234567", "vcs.time", "2026-12-01T10:00:00Z", "vcs.modified", "true"}
	for _, tc := range []struct {
		name                  string
		version, commit, date string
		read                  func() (*debug.BuildInfo, bool)
		want                  buildInfo
	}{
		{"checkout build: vcs settings", "", "", "", fakeBuildInfo("(devel)", vcs...),
			buildInfo{Version: "devel", Commit: "0123456789abcdef0123456789abcdef01234567", Modified: true, Date: "2026-12-01T10:00:00Z", GoVersion: "go1.99.1"}},
		{"go install: module version", "", "", "", fakeBuildInfo("v1.4.0"),
			buildInfo{Version: "v1.4.0", Commit: "unknown", Date: "unknown", GoVersion: "go1.99.1"}},
		{"ldflags beat the build info", "v2.0.0", "feedbee", "2026-12-04T15:00:00Z", fakeBuildInfo("(devel)", vcs...),
			buildInfo{Version: "v2.0.0", Commit: "feedbee", Date: "2026-12-04T15:00:00Z", GoVersion: "go1.99.1"}},
		{"no build info", "", "", "", func() (*debug.BuildInfo, bool) { return nil, false },
			buildInfo{Version: "devel", Commit: "unknown", Date: "unknown", GoVersion: runtime.Version()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := makeBuildInfo(tc.version, tc.commit, tc.date, tc.read)
			tc.want.Platform = runtime.GOOS + "/" + runtime.GOARCH
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	b := makeBuildInfo("", "", "", fakeBuildInfo("(devel)", vcs...))
	if s, want := b.short(), "bankgate devel (commit 0123456789ab+modified, built 2026-12-01T10:00:00Z, go1.99.1 "+runtime.GOOS+"/"+runtime.GOARCH+")"; s != want {
		t.Errorf("short() = %q, want %q", s, want)
	}
}

func TestVersionCommand(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		var out, errb syncBuffer
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		re := regexp.MustCompile(`^bankgate \S+ \(commit \S+, built \S+, go\S+ ` + runtime.GOOS + `/` + runtime.GOARCH + `\)\n$`)
		if !re.MatchString(out.String()) {
			t.Errorf("%v printed %q", args, out.String())
		}
	}
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"version", "--json"}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var b buildInfo
	if err := json.Unmarshal([]byte(out.String()), &b); err != nil || b.Version == "" || b.Commit == "" || b.GoVersion != runtime.Version() {
		t.Errorf("version --json = %q (%v)", out.String(), err)
	}
	if err := run(context.Background(), []string{"version", "extra"}, func(string) string { return "" }, &out, &errb); err == nil {
		t.Error("version extra: no error")
	}
}

// TestVersionLdflags links the real binary with -X, as scripts/release.sh
// does (without -trimpath, which would rebuild every dependency), and runs
// it.
func TestVersionLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("links a binary")
	}
	bin := filepath.Join(t.TempDir(), "bankgate")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X main.version=v9.8.7 -X main.commit=abcdef1234567 -X main.date=2026-12-04T15:00:00Z", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("bankgate --version: %v\n%s", err, out)
	}
	want := "bankgate v9.8.7 (commit abcdef123456, built 2026-12-04T15:00:00Z, " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if string(out) != want {
		t.Errorf("bankgate --version = %q, want %q", out, want)
	}
}

func TestVersionMetric(t *testing.T) {
	m := newMetrics(nil)
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	b := readBuildInfo()
	for _, f := range families {
		if f.GetName() != "bankgate_build_info" {
			continue
		}
		if len(f.Metric) != 1 || f.Metric[0].GetGauge().GetValue() != 1 {
			t.Fatalf("bankgate_build_info = %v", f)
		}
		labels := map[string]string{}
		for _, l := range f.Metric[0].Label {
			labels[l.GetName()] = l.GetValue()
		}
		want := map[string]string{"version": b.Version, "commit": b.Commit, "goversion": runtime.Version()}
		if len(labels) != 3 || labels["version"] != want["version"] || labels["commit"] != want["commit"] || labels["goversion"] != want["goversion"] {
			t.Fatalf("bankgate_build_info labels %v, want %v", labels, want)
		}
		return
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	t.Fatalf("no bankgate_build_info among %s", strings.Join(names, " "))
}

// TestVersionMetricScraped reads bankgate_build_info as Prometheus does,
// from a running server's /metrics.
func TestVersionMetricScraped(t *testing.T) {
	ts := startServer(t, serverOpts{})
	if ts.AdminURL == "" {
		t.Fatal("no admin listener")
	}
	res, err := http.Get(ts.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	b := readBuildInfo()
	want := `bankgate_build_info{commit="` + b.Commit + `",goversion="` + runtime.Version() + `",version="` + b.Version + `"} 1`
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want+"\n") {
		t.Errorf("GET /metrics: %d, lacks %s", res.StatusCode, want)
	}
}
