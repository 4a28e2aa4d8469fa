// Package shorttest sets how a test binary runs under -short, the fast
// inner loop (`go test -short ./...`).
package shorttest

import (
	"flag"
	"strconv"
	"testing"
)

// Parallel runs n parallel tests at a time under -short, unless
// -parallel was given. It is for packages whose tests wait more than they
// compute (on a server, on PostgreSQL round trips, on fsync), where more
// than one test per core keeps the cores busy. Call it from TestMain
// after flag.Parse.
func Parallel(n int) {
	if !testing.Short() {
		return
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(max(n, 1)))
	}
}
