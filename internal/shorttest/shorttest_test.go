package shorttest

import (
	"flag"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	flag.Parse()
	Parallel(6)
	os.Exit(m.Run())
}

// TestParallel: under -short the flag is what Parallel set, unless the
// command line gave one; without -short it is left alone.
func TestParallel(t *testing.T) {
	got := flag.Lookup("test.parallel").Value.String()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || (f.Name == "test.parallel" && f.Value.String() != "6") })
	switch {
	case testing.Short() && !given && got != "6":
		t.Errorf("-short: test.parallel = %s, want 6", got)
	case !testing.Short() && got == "6":
		t.Errorf("without -short: test.parallel = %s, want the default", got)
	}
}
