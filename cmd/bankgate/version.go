package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Set at link time by scripts/release.sh:
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.commit=0123abc -X main.date=2026-12-04T15:00:00Z"
//
// Each one left empty is taken from the build information Go records (the
// module version, and vcs.revision and vcs.time for a build inside a git
// checkout).
var (
	version string
	commit  string
	date    string
)

// buildInfo is what `bankgate version` prints and bankgate_build_info
// carries.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified"` // built from a checkout with uncommitted changes
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// readBuildInfo combines the link-time values with debug.ReadBuildInfo.
func readBuildInfo() buildInfo {
	return makeBuildInfo(version, commit, date, debug.ReadBuildInfo)
}

func makeBuildInfo(version, commit, date string, read func() (*debug.BuildInfo, bool)) buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := read(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			b.GoVersion = bi.GoVersion
		}
		ldCommit := b.Commit != ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				// A commit given at link time is the release's word.
				b.Modified = s.Value == "true" && !ldCommit
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

// short is the one-line form: "bankgate v1.2.0 (commit 0123abc, built ...)".
func (b buildInfo) short() string {
	c := b.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if b.Modified {
		c += "+modified"
	}
	return fmt.Sprintf("bankgate %s (commit %s, built %s, %s %s)", b.Version, c, b.Date, b.GoVersion, b.Platform)
}

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	asJSON := false
	for _, a := range args {
		switch strings.TrimLeft(a, "-") {
		case "json":
			asJSON = true
		case "h", "help":
			fmt.Fprint(stdout, "Usage: bankgate version [--json]\n\nPrint bankgate's version, commit, build date and Go version.\n")
			return nil
		default:
			return fmt.Errorf("version: unexpected argument %q", a)
		}
	}
	b := readBuildInfo()
	if asJSON {
		return json.NewEncoder(stdout).Encode(b)
	}
	_, err := fmt.Fprintln(stdout, b.short())
	return err
}

// registerBuildInfo adds bankgate_build_info, a gauge always 1 whose
// labels say which build is running.
func registerBuildInfo(reg prometheus.Registerer) {
	b := readBuildInfo()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bankgate_build_info",
		Help: "The running build: always 1, labelled with version, commit and Go version.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(b.Version, b.Commit, b.GoVersion).Set(1)
	reg.MustRegister(g)
}
