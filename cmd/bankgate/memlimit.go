package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimit returns the soft memory limit --memory-limit asks for, in
// bytes, and where it came from: "off" (0: the Go runtime's own default,
// which GOMEMLIMIT still sets), a size such as 512MiB or 2GiB, or "auto":
// 90% of the cgroup's memory limit (memory.max, cgroup v2) when the
// process runs in one that has a limit, else off. cgroupMax is the
// content of memory.max ("" if unreadable).
func memoryLimit(v, cgroupMax string) (int64, string, error) {
	switch v = strings.TrimSpace(v); v {
	case "", "off", "0":
		return 0, "off", nil
	case "auto":
		m := strings.TrimSpace(cgroupMax)
		n, err := strconv.ParseInt(m, 10, 64)
		if m == "" || m == "max" || err != nil || n <= 0 {
			return 0, "auto (no cgroup memory limit)", nil
		}
		return n / 10 * 9, "auto (90% of the cgroup's " + formatBytes(n) + ")", nil
	}
	n, err := parseBytes(v)
	if err != nil || n < 64<<20 {
		return 0, "", fmt.Errorf("--memory-limit %q must be off, auto or a size of at least 64MiB (such as 512MiB or 2GiB)", v)
	}
	return n, v, nil
}

// applyMemoryLimit sets the Go runtime's soft memory limit from the
// setting, and returns what it set for the start-up log.
func applyMemoryLimit(v string) (string, error) {
	var cg string
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		cg = string(b)
	}
	n, src, err := memoryLimit(v, cg)
	if err != nil {
		return "", err
	}
	if n > 0 {
		debug.SetMemoryLimit(n)
		return formatBytes(n) + " from " + src, nil
	}
	return src, nil
}

// parseBytes parses a size: a whole number with an optional suffix B,
// KiB, MiB, GiB or TiB (KB, MB, GB and TB are read as the same powers of
// two, as Go's GOMEMLIMIT does not accept them).
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"TB", 40}, {"GB", 30}, {"MB", 20}, {"KB", 10}, {"B", 0}}
	shift := uint(0)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, shift = rest, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n << shift, nil
}

// formatBytes formats n in MiB.
func formatBytes(n int64) string { return strconv.FormatInt(n>>20, 10) + "MiB" }
