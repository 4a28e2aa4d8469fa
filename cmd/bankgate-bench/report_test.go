package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// sweepResult is a read result of a sweep row.
func sweepResult(name string, users int, ratio, p99 float64, errors uint64) *Result {
	return &Result{Name: fmt.Sprintf("%s@%d", name, users), Requests: 100000, Errors: errors,
		RPS: 40000 * ratio, P50Ms: p99 / 3, P99Ms: p99, Ratio: ratio}
}

// sweepRow is a row of users with its ceiling, the results given and a
// largest RSS of rss.
func sweepRow(users int, rss int64, results ...*Result) *SweepRow {
	row := &SweepRow{Users: users, SetupPerSecond: 1000, RSSAfterSetup: rss / 2, MaxRSSBytes: rss,
		Results: []*Result{{Name: fmt.Sprintf("ceiling@%d", users), Requests: 400000, RPS: 40000, P99Ms: 4, Ratio: 1}}}
	for _, s := range results {
		s.ServerRSSMax = rss
	}
	row.Results = append(row.Results, results...)
	return row
}

// sweepReport is a --users report of the rows, on store.
func sweepReport(store string, rows ...*SweepRow) *Report {
	r := &Report{Store: store, Sweep: rows, Server: &Server{StartupMs: 20}}
	for _, row := range rows {
		r.Scenarios = append(r.Scenarios, row.Results...)
	}
	return r
}

// issueSweep is a sweep of 1,000 and 100,000 users on store with the
// given balance ratios, transactions ratio and RSS at 100,000 users.
func issueSweep(store string, bal1k, p99, bal100k, tx100k float64, rss int64) *Report {
	return sweepReport(store,
		sweepRow(1000, 50<<20, sweepResult("balance", 1000, bal1k, p99, 0), sweepResult("transactions", 1000, 0.35, 15, 0)),
		sweepRow(100_000, rss, sweepResult("balance", 100_000, bal100k, 24.5, 0), sweepResult("transactions", 100_000, tx100k, 46.4, 0)))
}

func TestSweepTargets(t *testing.T) {
	const sqliteWant1k = "want ≥ 60% of the row's ceiling req/s on sqlite, p99 < 20 ms, no errors;"
	const pgWant1k = "want ≥ 50% of the row's ceiling req/s on postgres, no errors;"
	errorsAt := func(r *Report, name string, n uint64) *Report {
		for _, s := range r.Scenarios {
			if s.Name == name {
				s.Errors = n
			}
		}
		return r
	}
	for _, c := range []targetCase{
		// SQLite.
		{name: "sqlite balance@1000 met", rep: issueSweep("sqlite", 0.604, 10, 0.47, 0.259, 483<<20), target: "balance@1000", pass: true,
			line: []string{sqliteWant1k, "got 60.4% of ceiling (24160 req/s; 1.01× the target share), p99 10.00 ms"}},
		{name: "sqlite balance@1000 at the share", rep: issueSweep("sqlite", 0.60, 19.99, 0.6, 0.3, 400<<20), target: "balance@1000", pass: true,
			line: []string{"got 60.0% of ceiling", "p99 19.99 ms"}},
		{name: "sqlite balance@1000 just under", rep: issueSweep("sqlite", 0.5996, 10, 0.6, 0.3, 400<<20), target: "balance@1000", pass: false,
			line: []string{"got 59.96% of ceiling", sqliteWant1k}},
		{name: "sqlite balance@1000 p99 at the bound", rep: issueSweep("sqlite", 0.70, 20, 0.6, 0.3, 400<<20), target: "balance@1000", pass: false,
			line: []string{"got 70.0% of ceiling", "p99 20.00 ms", "p99 < 20 ms"}},
		{name: "sqlite balance@1000 p99 just over", rep: issueSweep("sqlite", 0.70, 20.001, 0.6, 0.3, 400<<20), target: "balance@1000", pass: false,
			line: []string{"p99 20.001 ms"}},
		{name: "sqlite balance@1000 errors", rep: errorsAt(issueSweep("sqlite", 0.70, 10, 0.6, 0.3, 400<<20), "balance@1000", 2), target: "balance@1000", pass: false,
			line: []string{"2 errors (0.0%)", "no errors"}},
		{name: "sqlite balance@100000 short", rep: issueSweep("sqlite", 0.604, 10, 0.47, 0.259, 483<<20), target: "balance@100000", pass: false,
			line: []string{"want ≥ 55% of the row's ceiling req/s on sqlite, no errors;", "got 47.0% of ceiling", "p99 24.50 ms"}},
		{name: "sqlite balance@100000 at the share, no latency bound", rep: issueSweep("sqlite", 0.604, 10, 0.55, 0.259, 483<<20), target: "balance@100000", pass: true,
			line: []string{"got 55.0% of ceiling", "p99 24.50 ms"}},
		{name: "sqlite transactions@100000 met", rep: issueSweep("sqlite", 0.604, 10, 0.47, 0.259, 483<<20), target: "transactions@100000", pass: true,
			line: []string{"want ≥ 25% of the row's ceiling req/s on sqlite, no errors;", "got 25.9% of ceiling"}},
		{name: "sqlite transactions@100000 at the share", rep: issueSweep("sqlite", 0.604, 10, 0.47, 0.25, 483<<20), target: "transactions@100000", pass: true,
			line: []string{"got 25.0% of ceiling"}},
		{name: "sqlite transactions@100000 short", rep: issueSweep("sqlite", 0.604, 10, 0.47, 0.249, 483<<20), target: "transactions@100000", pass: false,
			line: []string{"got 24.9% of ceiling", "≥ 25%"}},
		{name: "sqlite transactions@100000 errors", rep: errorsAt(issueSweep("sqlite", 0.604, 10, 0.47, 0.3, 483<<20), "transactions@100000", 7), target: "transactions@100000", pass: false,
			line: []string{"7 errors"}},
		{name: "sqlite rss@100000 met", rep: issueSweep("sqlite", 0.604, 10, 0.47, 0.259, 483<<20), target: "rss@100000", pass: true,
			line: []string{"want server RSS < 512 MiB with 100000 users read;", "got 483.0 MiB"}},
		{name: "sqlite rss@100000 at the limit", rep: issueSweep("sqlite", 0.604, 10, 0.47, 0.259, 512<<20), target: "rss@100000", pass: false,
			line: []string{"got 512.0 MiB", "< 512 MiB"}},
		{name: "sqlite rss@100000 a byte under", rep: issueSweep("sqlite", 0.604, 10, 0.47, 0.259, 512<<20-1), target: "rss@100000", pass: true,
			line: []string{"got 511.99999"}},
		{name: "sqlite rss@100000 1.2 GiB", rep: issueSweep("sqlite", 0.604, 10, 0.47, 0.259, 1206<<20), target: "rss@100000", pass: false,
			line: []string{"got 1206.0 MiB"}},

		// PostgreSQL.
		{name: "postgres balance@1000 met, slow p99", rep: issueSweep("postgres", 0.601, 35, 0.35, 0.216, 455<<20), target: "balance@1000", pass: true,
			line: []string{pgWant1k, "got 60.1% of ceiling", "p99 35.00 ms"}},
		{name: "postgres balance@1000 at the share", rep: issueSweep("postgres", 0.50, 8.7, 0.35, 0.216, 455<<20), target: "balance@1000", pass: true,
			line: []string{"got 50.0% of ceiling"}},
		{name: "postgres balance@1000 just under", rep: issueSweep("postgres", 0.4999, 8.7, 0.35, 0.216, 455<<20), target: "balance@1000", pass: false,
			line: []string{"got 49.99% of ceiling"}},
		{name: "postgres balance@1000 errors", rep: errorsAt(issueSweep("postgres", 0.60, 8.7, 0.35, 0.216, 455<<20), "balance@1000", 1), target: "balance@1000", pass: false,
			line: []string{"1 errors"}},
		{name: "postgres balance@100000 short", rep: issueSweep("postgres", 0.601, 8.7, 0.35, 0.216, 455<<20), target: "balance@100000", pass: false,
			line: []string{"want ≥ 45% of the row's ceiling req/s on postgres, no errors;", "got 35.0% of ceiling"}},
		{name: "postgres balance@100000 at the share", rep: issueSweep("postgres", 0.601, 8.7, 0.45, 0.216, 455<<20), target: "balance@100000", pass: true,
			line: []string{"got 45.0% of ceiling"}},
		{name: "postgres transactions@100000 met", rep: issueSweep("postgres", 0.601, 8.7, 0.35, 0.216, 455<<20), target: "transactions@100000", pass: true,
			line: []string{"want ≥ 20% of the row's ceiling req/s on postgres, no errors;", "got 21.6% of ceiling"}},
		{name: "postgres transactions@100000 at the share", rep: issueSweep("postgres", 0.601, 8.7, 0.35, 0.20, 455<<20), target: "transactions@100000", pass: true,
			line: []string{"got 20.0% of ceiling"}},
		{name: "postgres transactions@100000 short", rep: issueSweep("postgres", 0.601, 8.7, 0.35, 0.185, 455<<20), target: "transactions@100000", pass: false,
			line: []string{"got 18.5% of ceiling"}},
		{name: "postgres rss@100000 met", rep: issueSweep("postgres", 0.601, 8.7, 0.35, 0.216, 455<<20), target: "rss@100000", pass: true,
			line: []string{"want server RSS < 512 MiB with 100000 users read;", "got 455.0 MiB"}},
		{name: "postgres rss@100000 at the limit", rep: issueSweep("postgres", 0.601, 8.7, 0.35, 0.216, 512<<20), target: "rss@100000", pass: false,
			line: []string{"got 512.0 MiB"}},

		// What was not measured has no target.
		{name: "no 100,000 row", rep: sweepReport("sqlite", sweepRow(1000, 50<<20, sweepResult("balance", 1000, 0.6, 10, 0), sweepResult("transactions", 1000, 0.3, 15, 0))),
			target: "balance@1000", pass: true, absent: "balance@100000"},
		{name: "no 100,000 row: transactions", rep: sweepReport("sqlite", sweepRow(1000, 50<<20, sweepResult("transactions", 1000, 0.3, 15, 0))), absent: "transactions@100000"},
		{name: "no 100,000 row: rss", rep: sweepReport("sqlite", sweepRow(1000, 50<<20, sweepResult("balance", 1000, 0.6, 10, 0))), absent: "rss@100000"},
		{name: "no 1,000 row", rep: sweepReport("postgres", sweepRow(100_000, 400<<20, sweepResult("balance", 100_000, 0.5, 10, 0))),
			target: "balance@100000", pass: true, absent: "balance@1000"},
		{name: "transactions not run", rep: sweepReport("sqlite", sweepRow(100_000, 400<<20, sweepResult("balance", 100_000, 0.5, 10, 0))),
			target: "rss@100000", pass: true, absent: "transactions@100000"},
		{name: "balance not run", rep: sweepReport("sqlite", sweepRow(1000, 50<<20, sweepResult("transactions", 1000, 0.3, 15, 0))), absent: "balance@1000"},
		{name: "only the ceiling at 100,000", rep: sweepReport("sqlite", sweepRow(100_000, 400<<20)), absent: "rss@100000"},
		{name: "no ceiling in the row", rep: sweepReport("sqlite", &SweepRow{Users: 1000, MaxRSSBytes: 50 << 20,
			Results: []*Result{{Name: "balance@1000", Requests: 1000, RPS: 25000, P99Ms: 10}}}), absent: "balance@1000"},
	} {
		c.check(t)
	}
}

// TestSweepTargetsOtherSizes checks that rows of other sizes get no
// target, and that a sweep gets none of the targets of named scenarios.
func TestSweepTargetsOtherSizes(t *testing.T) {
	r := sweepReport("sqlite",
		sweepRow(64, 30<<20, sweepResult("balance", 64, 0.66, 9, 0), sweepResult("transactions", 64, 0.30, 15, 0)),
		sweepRow(10_000, 190<<20, sweepResult("balance", 10_000, 0.54, 10, 0), sweepResult("transactions", 10_000, 0.31, 15, 0)),
		sweepRow(99_999, 600<<20, sweepResult("balance", 99_999, 0.40, 24, 0), sweepResult("transactions", 99_999, 0.20, 43, 0)),
		sweepRow(1_000_000, 900<<20, sweepResult("balance", 1_000_000, 0.30, 30, 0), sweepResult("transactions", 1_000_000, 0.10, 50, 0)))
	r.evaluate()
	if len(r.Targets) != 0 {
		t.Errorf("targets = %+v, want none", r.Targets)
	}
	var out bytes.Buffer
	r.printTable(&out)
	if strings.Contains(out.String(), "targets:") {
		t.Errorf("printed a targets block:\n%s", out.String())
	}
}

// TestSweepTargetsPrinted checks the whole targets block of a sweep of
// 1,000 and 100,000 users: after the sweep table, in the issue's order,
// and in the JSON.
func TestSweepTargetsPrinted(t *testing.T) {
	for _, c := range []struct {
		rep  *Report
		want []string
	}{
		{issueSweep("sqlite", 0.604, 10.0, 0.47, 0.259, 483<<20), []string{"PASS balance@1000", "MISS balance@100000", "PASS transactions@100000", "PASS rss@100000"}},
		{issueSweep("postgres", 0.601, 8.7, 0.35, 0.216, 455<<20), []string{"PASS balance@1000", "MISS balance@100000", "PASS transactions@100000", "PASS rss@100000"}},
	} {
		r := c.rep
		r.evaluate()
		var out bytes.Buffer
		r.printTable(&out)
		t.Logf("%s store:\n%s", r.Store, out.String())
		text := out.String()
		sweep, targets := strings.Index(text, "users sweep"), strings.Index(text, "\ntargets:\n")
		if sweep < 0 || targets < sweep {
			t.Fatalf("%s: no targets block after the sweep table:\n%s", r.Store, text)
		}
		var got []string
		for _, l := range strings.Split(text[targets+len("\ntargets:\n"):], "\n") {
			if f := strings.Fields(l); len(f) >= 2 && (f[0] == "PASS" || f[0] == "MISS") {
				got = append(got, f[0]+" "+f[1])
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: targets %q, want %q", r.Store, got, c.want)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if len(back.Targets) != len(c.want) || back.Targets[0].Name != "balance@1000" || !back.Targets[0].Pass || back.Targets[1].Pass {
			t.Errorf("%s: JSON targets %+v", r.Store, back.Targets)
		}
	}
}
