package main

import (
	"bytes"
	"strings"
	"testing"
)

// targetCase is one hand-built report and what evaluate should make of
// one of its targets: pass or not, and texts its printed line must hold
// (the figure and the want). An empty target name means the report must
// have no target named absent.
type targetCase struct {
	name   string
	rep    *Report
	target string
	pass   bool
	line   []string
	absent string
}

// check evaluates c.rep and checks its targets and its printed table.
func (c targetCase) check(t *testing.T) {
	t.Helper()
	c.rep.evaluate()
	var out bytes.Buffer
	c.rep.printTable(&out)
	_, block, _ := strings.Cut(out.String(), "\ntargets:\n")
	if c.absent != "" {
		for _, tg := range c.rep.Targets {
			if tg.Name == c.absent {
				t.Errorf("%s: target %s = %+v, want none", c.name, c.absent, tg)
			}
		}
		if strings.Contains(block, " "+c.absent+" ") {
			t.Errorf("%s: printed a %s target:\n%s", c.name, c.absent, out.String())
		}
	}
	if c.target == "" {
		return
	}
	var got *Target
	for i := range c.rep.Targets {
		if c.rep.Targets[i].Name == c.target {
			got = &c.rep.Targets[i]
		}
	}
	if got == nil {
		t.Errorf("%s: no target %s in %+v", c.name, c.target, c.rep.Targets)
		return
	}
	if got.Pass != c.pass {
		t.Errorf("%s: %s pass = %v, want %v (%+v)", c.name, c.target, got.Pass, c.pass, *got)
	}
	verdict := "MISS"
	if c.pass {
		verdict = "PASS"
	}
	var line string
	for _, l := range strings.Split(block, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[1] == c.target {
			line = l
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(line), verdict+" ") {
		t.Errorf("%s: printed line %q, want it to start with %s; output:\n%s", c.name, line, verdict, out.String())
	}
	for _, want := range c.line {
		if !strings.Contains(line, want) {
			t.Errorf("%s: printed line %q lacks %q", c.name, line, want)
		}
	}
}

func exchangeReport(store string, rps, p99 float64, errors uint64) *Report {
	return &Report{Store: store, Scenarios: []*Result{
		{Name: "ceiling", RPS: 40000, Requests: 200000, Ratio: 1},
		{Name: "exchange", RPS: rps, P99Ms: p99, Requests: 25000, Errors: errors},
	}}
}

func TestExchangeTarget(t *testing.T) {
	for _, c := range []targetCase{
		{name: "sqlite met", rep: exchangeReport("sqlite", 5702, 29.5, 0), target: "exchange", pass: true,
			line: []string{"want ≥ 5000 req/s on sqlite, p99 < 50 ms, no errors", "got 5702 req/s", "p99 29.50 ms"}},
		{name: "sqlite at the rate", rep: exchangeReport("sqlite", 5000, 49.99, 0), target: "exchange", pass: true,
			line: []string{"got 5000 req/s", "p99 49.99 ms"}},
		{name: "sqlite just under the rate", rep: exchangeReport("sqlite", 4999.6, 30, 0), target: "exchange", pass: false,
			line: []string{"got 4999.6 req/s", "≥ 5000 req/s"}},
		{name: "sqlite p99 at the bound", rep: exchangeReport("sqlite", 6000, 50, 0), target: "exchange", pass: false,
			line: []string{"p99 50.00 ms", "p99 < 50 ms"}},
		{name: "sqlite the old 2000/s", rep: exchangeReport("sqlite", 2463, 39, 0), target: "exchange", pass: false,
			line: []string{"got 2463 req/s", "≥ 5000 req/s"}},
		{name: "sqlite errors", rep: exchangeReport("sqlite", 6000, 20, 3), target: "exchange", pass: false,
			line: []string{"3 errors", "no errors"}},
		{name: "postgres met", rep: exchangeReport("postgres", 3191, 36.4, 0), target: "exchange", pass: true,
			line: []string{"want ≥ 3000 req/s on postgres, no errors;", "got 3191 req/s", "p99 36.40 ms"}},
		{name: "postgres at the rate, slow p99", rep: exchangeReport("postgres", 3000, 80, 0), target: "exchange", pass: true,
			line: []string{"got 3000 req/s", "p99 80.00 ms"}},
		{name: "postgres short", rep: exchangeReport("postgres", 2958, 38, 0), target: "exchange", pass: false,
			line: []string{"got 2958 req/s", "≥ 3000 req/s"}},
		{name: "postgres errors", rep: exchangeReport("postgres", 4000, 20, 1), target: "exchange", pass: false,
			line: []string{"1 errors"}},
		{name: "not run", rep: &Report{Store: "sqlite", Scenarios: []*Result{{Name: "login", RPS: 2000, Requests: 9000}}}, absent: "exchange"},
	} {
		c.check(t)
	}
}

func TestExact(t *testing.T) {
	for _, c := range []struct {
		v, limit float64
		prec     int
		want     string
	}{
		{5702.4, 5000, 0, "5702"},
		{5000, 5000, 0, "5000"},
		{4999.6, 5000, 0, "4999.6"},
		{4999.996, 5000, 0, "4999.996"},
		{50.004, 50, 2, "50.004"},
		{59.96, 60, 1, "59.96"},
	} {
		if got := exact(c.v, c.limit, c.prec); got != c.want {
			t.Errorf("exact(%v, %v, %d) = %q, want %q", c.v, c.limit, c.prec, got, c.want)
		}
	}
}
