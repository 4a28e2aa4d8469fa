package main

import "testing"

func TestMemoryLimit(t *testing.T) {
	for _, tt := range []struct {
		v, cgroup string
		want      int64
		err       bool
	}{
		{"off", "1073741824", 0, false},
		{"", "", 0, false},
		{"auto", "max\n", 0, false},
		{"auto", "", 0, false},
		{"auto", "1073741824\n", 1073741824 / 10 * 9, false},
		{"512MiB", "", 512 << 20, false},
		{"2GiB", "", 2 << 30, false},
		{"2GB", "", 2 << 30, false},
		{"1048576000", "", 1048576000, false},
		{"10MiB", "", 0, true},
		{"lots", "", 0, true},
		{"-1GiB", "", 0, true},
		{"99999999TiB", "", 0, true},
	} {
		got, _, err := memoryLimit(tt.v, tt.cgroup)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("memoryLimit(%q, %q) = %d, %v; want %d, error %v", tt.v, tt.cgroup, got, err, tt.want, tt.err)
		}
	}
}
