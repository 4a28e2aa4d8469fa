package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// maxSweepUsers bounds a --users size. Each connection costs the
// benchmark about 1 KiB (its token, secrets and two serialized requests)
// and the server a Connect login, an exchange and an accounts/get to make.
const maxSweepUsers = 1_000_000

// sweepNames are the scenarios a --users sweep measures, in run order.
var sweepNames = []string{"ceiling", "balance", "transactions"}

// SweepRow is one size of a --users sweep: the read scenarios measured
// with that many connections in the store, all of them in use.
type SweepRow struct {
	Users int `json:"users"`
	// SetupSeconds is how long growing the store to Users connections
	// took (from the previous row's size), and SetupPerSecond its rate.
	SetupSeconds   float64 `json:"setupSeconds"`
	SetupPerSecond float64 `json:"setupConnectionsPerSecond"`
	// RSSAfterSetup is the server's RSS once the connections existed;
	// MaxRSSBytes the largest seen while the row's scenarios ran.
	RSSAfterSetup int64 `json:"serverRSSAfterSetupBytes"`
	MaxRSSBytes   int64 `json:"serverMaxRSSBytes"`
	// Results are the row's scenarios (named like "balance@1000"); their
	// ratios are to the row's own ceiling.
	Results []*Result `json:"results"`
}

func (r *SweepRow) result(name string) *Result {
	for _, s := range r.Results {
		if strings.TrimSuffix(s.Name, "@"+strconv.Itoa(r.Users)) == name {
			return s
		}
	}
	return nil
}

// parseSizes parses the --users list into distinct ascending sizes.
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ReplaceAll(f, "_", ""))
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > maxSweepUsers {
			return nil, fmt.Errorf("--users: %q is not a number of connections between 1 and %d", f, maxSweepUsers)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("--users: no size given")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// sweepScenarios keeps the read scenarios of names. Scenarios that
// write are an error when asked for by name.
func sweepScenarios(names []string, asked string) ([]string, error) {
	var out []string
	for _, n := range names {
		if slices.Contains(sweepNames, n) {
			out = append(out, n)
		} else if asked != "all" {
			return nil, fmt.Errorf("--users sweeps %s; %s is not one of them", strings.Join(sweepNames, ", "), n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--users sweeps %s; --scenarios names none of them", strings.Join(sweepNames, ", "))
	}
	if !slices.ContainsFunc(out, func(n string) bool { return n != "ceiling" }) {
		return nil, errors.New("--users reads the users it connects: --scenarios must name balance or transactions, not the ceiling alone")
	}
	return out, nil
}

// explicit reports whether the flag name was given on the command line.
func explicit(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// setupProgress returns a progress printer for adding connections.
func setupProgress(w io.Writer, start time.Time) func(done, total int) {
	return func(done, total int) {
		el := time.Since(start)
		rate := float64(done) / el.Seconds()
		left := time.Duration(float64(total-done)/max(rate, 1)) * time.Second
		fmt.Fprintf(w, "  connections: %d/%d (%.0f/s, about %v left)\n", done, total, rate, left.Round(time.Second))
	}
}

// measureSweep runs the --users sweep: for each size it grows the store
// to that many connections and measures names (--repeat rounds each,
// the median kept) against the ceiling measured in the same row.
func measureSweep(ctx context.Context, o *options, names []string, b *bench, srv *server, rep *Report, stdout io.Writer) error {
	rep.Sweep = []*SweepRow{}
	for _, size := range o.sweep {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		row := &SweepRow{Users: size}
		have := len(b.users)
		t := time.Now()
		if size > have {
			fmt.Fprintf(stdout, "users %d: adding %d connections through the API …\n", size, size-have)
			if err := b.addUsers(ctx, size, setupProgress(stdout, t)); err != nil {
				return fmt.Errorf("--users %d: %w", size, err)
			}
			row.SetupSeconds = time.Since(t).Seconds()
			row.SetupPerSecond = float64(size-have) / row.SetupSeconds
		} else if len(rep.Sweep) == 0 && rep.Server.SetupMs > 0 { // made at startup
			row.SetupSeconds = rep.Server.SetupMs / 1000
			row.SetupPerSecond = float64(size) / row.SetupSeconds
		}
		row.RSSAfterSetup = procRSS(srv.pid)
		row.MaxRSSBytes = row.RSSAfterSetup
		fmt.Fprintf(stdout, "users %d: %d connections in the store, server RSS %s\n", size, b.logins.Load(), mib(row.RSSAfterSetup))
		// The row measures size users in active use. Setup read each
		// connection once as it made it, but making 100,000 takes minutes
		// (over 4 on PostgreSQL): the first ones made would be read for
		// the first time in 5 minutes, past the change feed's bound on
		// cached state (feed.MaxAge), which no user in active use is.
		// One unmeasured read of every user first.
		t = time.Now()
		if err := b.parallel(ctx, size, o.conns, func(c client, i int) error {
			_, err := call(c, b.users[i].balance)
			return err
		}, nil); err != nil {
			return fmt.Errorf("--users %d: reading every user once: %w", size, err)
		}
		fmt.Fprintf(stdout, "users %d: read each once in %v\n", size, time.Since(t).Round(time.Millisecond))
		rounds := map[string][]*Result{}
		var labels []string
		for round := 1; round <= o.repeat; round++ {
			var ceiling *Result
			for _, name := range names {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				label := fmt.Sprintf("%s@%d", name, size)
				if round == 1 {
					labels = append(labels, label)
				}
				var res *Result
				var err error
				if name == "ceiling" {
					res, err = measureCeiling(ctx, o)
					if res != nil {
						res.Name = label
					}
				} else {
					res, err = measureBankgate(ctx, o, b, srv, name, label, nil)
				}
				if res != nil && res.Requests > 0 {
					if name == "ceiling" {
						ceiling, res.Ratio = res, 1
					} else if ceiling != nil && ceiling.RPS > 0 {
						res.Ratio = res.RPS / ceiling.RPS
					}
					rounds[label] = append(rounds[label], res)
					row.MaxRSSBytes = max(row.MaxRSSBytes, res.ServerRSSMax)
					rep.Server.MaxRSSBytes = max(rep.Server.MaxRSSBytes, res.ServerRSSMax)
					fmt.Fprintf(stdout, "%-19s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d  ratio %5.1f%%\n", res.Name, res.RPS, res.P50Ms, res.P99Ms, res.Errors, 100*res.Ratio)
				}
				if err != nil {
					row.Results = medians(labels, rounds)
					rep.Sweep = append(rep.Sweep, row)
					rep.Scenarios = append(rep.Scenarios, row.Results...)
					return err
				}
			}
		}
		row.Results = medians(labels, rounds)
		rep.Sweep = append(rep.Sweep, row)
		rep.Scenarios = append(rep.Scenarios, row.Results...)
	}
	if !srv.alive() {
		return fmt.Errorf("bankgate exited during the run (%v); its log %s ends:\n%s", srv.exitErr, srv.logPath, tail(srv.logPath, 20))
	}
	return nil
}

// readTarget is one of issue 10's targets for a --users sweep: a read
// scenario over exactly users connections must reach share of the
// ceiling measured in its row, with p99 under p99Ms when that is not 0,
// and no errors.
type readTarget struct {
	scenario string
	users    int
	share    float64
	p99Ms    float64
}

// The sweep's server RSS target: under rssLimit with rssUsers users read.
const (
	rssUsers = 100_000
	rssLimit = 512 << 20
)

// sweepTargets are issue 10's read targets for store, in its order.
func sweepTargets(store string) []readTarget {
	if store == "postgres" {
		return []readTarget{
			{"balance", 1000, 0.50, 0},
			{"balance", 100_000, 0.45, 0},
			{"transactions", 100_000, 0.20, 0},
		}
	}
	return []readTarget{
		{"balance", 1000, 0.60, 20},
		{"balance", 100_000, 0.55, 0},
		{"transactions", 100_000, 0.25, 0},
	}
}

// evaluateSweep appends the targets of the sweep's rows to r.Targets:
// the read targets of the rows of exactly their size whose scenario and
// ceiling were measured, and the RSS target of a 100,000-user row in
// which balance or transactions ran. The figures are those of the sweep
// table: with --repeat, the median of the rounds' ratios and the median
// round's p99 and errors; the row's largest RSS.
func (r *Report) evaluateSweep() {
	for _, row := range r.Sweep {
		for _, rt := range sweepTargets(r.Store) {
			s := row.result(rt.scenario)
			if rt.users != row.Users || s == nil || s.Ratio == 0 {
				continue
			}
			t := Target{Name: fmt.Sprintf("%s@%d", rt.scenario, row.Users)}
			t.Pass = s.Ratio >= rt.share && s.Errors == 0
			if rt.p99Ms > 0 {
				t.Want = fmt.Sprintf("≥ %.0f%% of the row's ceiling req/s on %s, p99 < %.0f ms, no errors", rt.share*100, r.Store, rt.p99Ms)
				t.Pass = t.Pass && s.P99Ms < rt.p99Ms
			} else {
				t.Want = fmt.Sprintf("≥ %.0f%% of the row's ceiling req/s on %s, no errors", rt.share*100, r.Store)
			}
			p99 := fmt.Sprintf("%.2f", s.P99Ms)
			if rt.p99Ms > 0 {
				p99 = exact(s.P99Ms, rt.p99Ms, 2)
			}
			t.Got = fmt.Sprintf("%s%% of ceiling (%.0f req/s; %.2f× the target share), p99 %s ms%s",
				exact(s.Ratio*100, rt.share*100, 1), s.RPS, s.Ratio/rt.share, p99, errorsNote(s))
			r.Targets = append(r.Targets, t)
		}
		if row.Users == rssUsers && row.MaxRSSBytes > 0 && (row.result("balance") != nil || row.result("transactions") != nil) {
			r.Targets = append(r.Targets, Target{
				Name: fmt.Sprintf("rss@%d", row.Users),
				Want: fmt.Sprintf("server RSS < %d MiB with %d users read", rssLimit>>20, row.Users),
				Got: fmt.Sprintf("%s MiB, the most seen in the row (%.2f× the limit)",
					exact(float64(row.MaxRSSBytes)/(1<<20), rssLimit>>20, 1), float64(row.MaxRSSBytes)/rssLimit),
				Pass: row.MaxRSSBytes < rssLimit,
			})
		}
	}
}

// printSweep writes the sweep as one row per size.
func (r *Report) printSweep(w io.Writer) {
	if len(r.Sweep) == 0 {
		return
	}
	fmt.Fprintln(w, "\nusers sweep (ratios to the ceiling measured in the same row):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "users\tsetup/s\tceiling req/s\tbalance req/s\tratio\tp99 ms\ttransactions req/s\tratio\tp99 ms\terrors\tserver RSS\t")
	for _, row := range r.Sweep {
		cell := func(name string) (string, string, string) {
			s := row.result(name)
			if s == nil {
				return "-", "-", "-"
			}
			ratio := "-"
			if s.Ratio > 0 && name != "ceiling" {
				ratio = fmt.Sprintf("%.1f%%", 100*s.Ratio)
			}
			return fmt.Sprintf("%.0f", s.RPS), ratio, fmt.Sprintf("%.2f", s.P99Ms)
		}
		var errs uint64
		for _, s := range row.Results {
			errs += s.Errors
		}
		setup := "-"
		if row.SetupPerSecond > 0 {
			setup = fmt.Sprintf("%.0f", row.SetupPerSecond)
		}
		c, _, _ := cell("ceiling")
		b, br, bp := cell("balance")
		t, tr, tp := cell("transactions")
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n", row.Users, setup, c, b, br, bp, t, tr, tp, errs, mib(row.MaxRSSBytes))
	}
	tw.Flush()
}
